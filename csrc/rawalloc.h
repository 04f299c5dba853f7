/* The static build's raw-domain allocator (rawalloc.c): installed first thing in main. */
#ifndef RC_RAWALLOC_H
#define RC_RAWALLOC_H
void rc_rawalloc_install(void);
#endif
