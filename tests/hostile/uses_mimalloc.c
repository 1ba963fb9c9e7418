/* Links mimalloc (Debian's build overrides malloc) and also calls mi_malloc directly. The
 * malloc calls are traced (the preload comes first and forwards to mimalloc); the direct
 * mi_malloc calls are not, and measure run says so before the program starts. */
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>

void* volatile sink;

int main(void) {
  for (int i = 0; i < 3; ++i) {
    void* p = malloc(200); /* @mimalloc_malloc */
    sink = p;
    free(p);
  }
  void* direct = mi_malloc(300); /* not traced */
  sink = direct;
  mi_free(direct);
  puts("mimalloc done");
  return 0;
}
