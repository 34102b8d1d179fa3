// What the tests' process helper needs from glibc that Swift does not see.
#include <spawn.h>

/// Closes every descriptor from `lowest` up in the child, atomically at spawn
/// (glibc ≥ 2.34). Declared here because glibc shows it only under _GNU_SOURCE.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int lowest);

/// Also GNU-only to Swift: a child's working directory set at spawn, and
/// pipes created close-on-exec (so no other child inherits them).
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
extern int pipe2(int fds[2], int flags);

#include <fcntl.h>
#include <sys/ioctl.h>

/// A pipe's capacity set to `bytes` (F_SETPIPE_SZ, GNU-only; fcntl is variadic
/// to Swift): the capacity it now has, or -1.
static inline int cspawn_set_pipe_size(int fd, int bytes) { return fcntl(fd, 1031 /* F_SETPIPE_SZ */, bytes); }

/// The bytes waiting in a pipe (FIONREAD; ioctl is variadic to Swift), or -1.
static inline int cspawn_pending_bytes(int fd) {
    int pending = 0;
    return ioctl(fd, FIONREAD, &pending) == 0 ? pending : -1;
}
