#ifndef RC_FASTPATH_H
#define RC_FASTPATH_H
#include <stdint.h>
/* exit code when the verb was handled in C, -1 when Python must run */
int rc_fastpath(int argc, char **argv);
#endif
