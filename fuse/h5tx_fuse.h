/* h5tx_fuse.h - `h5tx mount`: a store as a FUSE file system.
 *
 * DIR/<path> are the head files (read-write), DIR/@REV/<path> and
 * DIR/@TAG/<path> the files as of a revision (read-only), DIR/.h5tx/log the
 * commit log and DIR/.h5tx/stats the mount's counters, both as text. The
 * decisions (one inode per content version, timeouts, writers, mkdir,
 * rename) are in the README, section "h5tx mount". Uses only h5tx.h.
 */
#ifndef H5TX_FUSE_H
#define H5TX_FUSE_H

#include "h5tx.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of h5tx_fuse_mount(). Initialise with h5tx_fuse_opts_init(). */
typedef struct h5tx_fuse_opts {
  int foreground;        /**< serve in the calling process until unmounted
                              (default: a daemon serves, the call returns
                              once the mount is ready) */
  const char *fuse_opts; /**< comma-separated FUSE mount options
                              ("allow_other"), or NULL */
  const char *config;    /**< h5tx config string ("codec=zstd:9;
                              durability=nosync;page_size=1M;cache=64M"),
                              or NULL; store, rev, commit and plain do not
                              apply to a mount and are refused */
  unsigned max_threads;  /**< worker threads (0: 10) */
} h5tx_fuse_opts;

/** Fill `o` with the defaults. */
void h5tx_fuse_opts_init(h5tx_fuse_opts *o);

/** Mount store `store` (a directory STORE.h5tx) on directory `dir`.
 *
 * In the foreground this serves requests until the file system is
 * unmounted (h5tx_fuse_umount(), fusermount3 -u, or SIGINT/SIGTERM/SIGHUP)
 * and returns 0 then. As a daemon, the calling process returns 0 as soon as
 * the mount is ready (or the error that kept it from being ready); the
 * daemon, which opened the store after it was forked, never returns.
 * At shutdown, changes written through descriptors that were never closed
 * are dropped, never committed half-way.
 * @return 0, or
 *  - H5TX_EINVAL: a bad or inapplicable config key, or bad FUSE options
 *  - H5TX_EBUSY: `dir` is an h5tx mount already
 *  - H5TX_ENOENT: `dir` or `store` does not exist
 *  - H5TX_EFORMAT: `store` is not a store
 *  - H5TX_EIO: the mount failed (the message says why) */
int h5tx_fuse_mount(const char *store, const char *dir, const h5tx_fuse_opts *o, h5tx_error *err);

/** Unmount the h5tx mount at `dir` and wait until its daemon has closed
 * the store. Works on the mount of a killed daemon too.
 * @return 0, or
 *  - H5TX_EINVAL: `dir` is not an h5tx mount
 *  - H5TX_EBUSY: files on it are open
 *  - H5TX_EIO: the unmount failed */
int h5tx_fuse_umount(const char *dir, h5tx_error *err);

#ifdef __cplusplus
}
#endif
#endif /* H5TX_FUSE_H */
