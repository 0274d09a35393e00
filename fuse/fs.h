/* fs.h - what the two halves of h5tx mount share: the file system (fs.c
 * and the parts it lists: FUSE low-level operations, inodes, writers and
 * the commit rule) and its set-up (mount.c: options, session, daemon,
 * unmount); and what both learn of callers from /proc (procs.c). Internal
 * to the h5tx_fuse library. */
#ifndef H5TX_FUSE_FS_H
#define H5TX_FUSE_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "h5tx.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct h5tx_fuse__fs h5tx_fuse__fs;

/** The file system's state, without a store yet: nothing in it minds a
 * fork. `cfg` gives the writers' settings (page_size, codec, durability,
 * cache); `use_syslog`: report problems to syslog instead of stderr. */
int h5tx_fuse__fs_new(const h5tx_config *cfg, int use_syslog, h5tx_fuse__fs **out, h5tx_error *err);

/** Open the store (in the process that serves, after any fork). */
int h5tx_fuse__fs_open(h5tx_fuse__fs *fs, const char *store, h5tx_error *err);

/** Start serving on session `se`, mounted at `mnt`: the helper thread that
 * sends the kernel its invalidations and lets go of writers nobody opened. */
int h5tx_fuse__fs_start(h5tx_fuse__fs *fs, struct fuse_session *se, const char *mnt,
                        h5tx_error *err);

/** Stop the helper thread: no notification goes to the session after this
 * returns (call it before the session's device is closed). */
void h5tx_fuse__fs_stop(h5tx_fuse__fs *fs);

/** Stop the helper thread, drop what is still open (uncommitted changes are
 * dropped, never committed), close the store and free `fs`. NULL is
 * allowed. */
void h5tx_fuse__fs_free(h5tx_fuse__fs *fs);

/** Report a problem of the running mount (stderr, or syslog for a daemon). */
void h5tx_fuse__log(h5tx_fuse__fs *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Decode the octal escapes (\040) of /proc/.../mountinfo in place. */
void h5tx_fuse__unescape(char *s);

/* ---- callers (procs.c) ---- */

/** A calling thread as /proc shows it. */
typedef struct h5tx_fuse__proc {
  pid_t tgid;  /**< its process */
  int exiting; /**< in exit: its descriptors are being closed by the kernel */
  int killed;  /**< exiting because a signal killed it */
  int known;   /**< 0: /proc could not tell (another PID namespace, hidepid) */
} h5tx_fuse__proc;

/** The mount as the kernel numbers it. */
typedef struct h5tx_fuse__mountid {
  long mnt_id;
  unsigned major, minor;
} h5tx_fuse__mountid;

/** What /proc says of thread `tid` (FUSE's pid of a request). 0, or -1
 * when it cannot tell (out->known is 0 then). */
int h5tx_fuse__proc_get(pid_t tid, h5tx_fuse__proc *out);

/** Does thread `tid` hold a descriptor of one of inodes `inos` of mount
 * `m`? 1 yes, 0 no, -1 cannot tell (its fdinfo is not readable). */
int h5tx_fuse__proc_holds(pid_t tid, const h5tx_fuse__mountid *m, const uint64_t *inos, size_t n);

/** The h5tx mount at `mnt` (absolute), from /proc/self/mountinfo: 0, or -1
 * if there is none. */
int h5tx_fuse__mountid_of(const char *mnt, h5tx_fuse__mountid *out);

/** The FUSE low-level operations; their userdata is the h5tx_fuse__fs. */
extern const struct fuse_lowlevel_ops h5tx_fuse__ops;

#endif /* H5TX_FUSE_FS_H */
