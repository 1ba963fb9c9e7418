// The attach fixture as a C++ program: the same rounds through new[] and delete[].
#include "attach_server.c"
