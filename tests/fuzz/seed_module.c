/* A module for the symbolizer's fuzz seeds: functions inlined into others, a static one, a
 * loop, so its DWARF has inline chains, ranges and line programs worth mutating. */
static inline int twice(int x) {
  return 2 * x;
}
static inline int add_twice(int a, int b) {
  return twice(a) + twice(b);
}
static int hidden(int n) {
  int sum = 0;
  for (int i = 0; i < n; ++i)
    sum += add_twice(i, n);
  return sum;
}
int visible(int n) {
  return hidden(n) + add_twice(n, 1);
}
int other(int n) {
  return n > 3 ? visible(n - 1) : twice(n);
}
