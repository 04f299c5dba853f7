/* The new mount API (open_tree, move_mount, mount_setattr): its headers, and what older libc
 * headers (musl's included) may not define.  New syscalls have the same number on every
 * architecture. */
#ifndef RC_MOUNT_API_H
#define RC_MOUNT_API_H

#include <fcntl.h>
#include <sys/syscall.h>
#include <linux/mount.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

#endif
