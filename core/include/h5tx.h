/* h5tx.h - the h5tx page store: files kept as pages with revisions.
 *
 * A store is a directory named `*.h5tx` that holds any number of files
 * under path-like names. Every commit is an atomic, durable revision of
 * the whole store; readers open a snapshot at a revision and see it
 * unchanged while writers go on; past revisions stay readable until
 * garbage collection lets them go. This API knows nothing of HDF5.
 *
 * Conventions, for every function below:
 * - Functions that can fail return 0 (H5TX_OK) or a negative h5tx error
 *   code (H5TX_E...), and, when `err` is not NULL, fill it with that code
 *   and a message naming what was wrong (store, file, page, revision).
 *   They never exit() or abort().
 * - A store handle may be used by many threads at once; a snapshot, a file
 *   handle or a writer is used by one thread at a time.
 * - Handles never cross fork(): a child opens the store again. A handle
 *   used in a child process fails with H5TX_EFORK. A child may close or
 *   free the handles it inherited (HDF5 closes every open file in a child
 *   that calls exit()): that releases nothing of its parent's (pins,
 *   leases, spill files stay the parent's).
 *
 * Format and layout on disk: docs/FORMAT.md.
 */
#ifndef H5TX_H
#define H5TX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define H5TX_API __attribute__((visibility("default")))
#else
#define H5TX_API
#endif

/** @name Version of this library and of the on-disk format it writes. */
#define H5TX_VERSION_MAJOR 0
#define H5TX_VERSION_MINOR 1
#define H5TX_VERSION_PATCH 0
#define H5TX_FORMAT_VERSION 2

/** A revision number. Revisions are global to a store: 0 is the empty store,
 * and every commit adds one. */
typedef uint64_t h5tx_rev;

/** Stands for "the newest revision" wherever a revision is asked for. */
#define H5TX_HEAD UINT64_MAX

/** @name Error codes. All are negative; 0 is success. */
enum {
  H5TX_OK = 0,
  H5TX_EINVAL = -1,    /**< bad argument or option value */
  H5TX_ENOENT = -2,    /**< no such store, file, revision or tag */
  H5TX_EEXIST = -3,    /**< already exists */
  H5TX_EBUSY = -4,     /**< a live writer holds the file's lease */
  H5TX_ECONFLICT = -5, /**< commit on a base that is no longer head */
  H5TX_ECORRUPT = -6,  /**< checksum or structure check failed */
  H5TX_EFORMAT = -7,   /**< not a store, or a newer/foreign format */
  H5TX_EIO = -8,       /**< an I/O error from the operating system */
  H5TX_ENOSPC = -9,    /**< the disk is full; nothing was committed */
  H5TX_ENOMEM = -10,   /**< out of memory */
  H5TX_EGONE = -11,    /**< revision was garbage-collected */
  H5TX_EROFS = -12,    /**< write to something read-only */
  H5TX_EFORK = -13,    /**< handle used in a child after fork() */
  H5TX_ERANGE = -14,   /**< offset or length out of range */
  /** The commit landed (it is head, visible to every reader, and `*rev`
   * says which revision it is) but flushing it to disk failed: it may not
   * survive a power cut until a later sync succeeds. Never "nothing was
   * stored". */
  H5TX_ESYNC = -20,
};

/** An error: its code and a message that names what was wrong. */
typedef struct h5tx_error {
  int code;
  char msg[512];
} h5tx_error;

/** The name of an error code ("H5TX_EBUSY"), never NULL. */
H5TX_API const char *h5tx_strerror(int code);

/** @name Store options. */
enum { H5TX_CODEC_NONE = 0, H5TX_CODEC_ZSTD = 1, H5TX_CODEC_LZ4 = 2 };
enum { H5TX_SYNC = 0, H5TX_NOSYNC = 1 };

/** Default page size of new files: 64 KiB (docs/FORMAT.md says why). */
#define H5TX_DEFAULT_PAGE_SIZE 65536u
#define H5TX_MIN_PAGE_SIZE 512u
#define H5TX_MAX_PAGE_SIZE (16u << 20)

/** Options for h5tx_store_open(). Initialise with h5tx_store_opts_init():
 * zero page size and level, and -1 codec and durability, mean "the store's
 * own default" (set when the store was created). */
typedef struct h5tx_store_opts {
  int create;         /**< create the store if it does not exist */
  int read_only;      /**< refuse every write through this handle */
  int durability;     /**< -1, H5TX_SYNC (default) or H5TX_NOSYNC */
  uint32_t page_size; /**< page size of files created (0: default) */
  int codec;          /**< -1, H5TX_CODEC_LZ4 (default), _ZSTD or _NONE */
  int level;          /**< zstd level (default 3) when the codec is zstd */
  size_t dirty_limit; /**< the writer cache: bytes of dirty pages a writer
                           keeps in memory before it streams them into the
                           page log (0: 64 MiB) */
} h5tx_store_opts;

/** Fill `o` with the defaults above. */
H5TX_API void h5tx_store_opts_init(h5tx_store_opts *o);

typedef struct h5tx_store h5tx_store;

/** Open the store at directory `path` (a name ending in ".h5tx").
 *
 * A store may be opened any number of times, by any number of processes.
 * The first handle opened read-write while no other process has the store
 * open recovers it after a crash or power loss (docs/FORMAT.md,
 * "Recovery"; h5tx_store_recovered() says what changed).
 * @param[in] path  the store directory
 * @param[in] opts  options, or NULL for the defaults
 * @param[out] out  the handle, to be closed with h5tx_store_close()
 * @return 0, or
 *  - H5TX_ENOENT: no store at `path` and `opts->create` is not set, or the
 *    parent directory of `path` does not exist
 *  - H5TX_EINVAL: `path` does not end in ".h5tx" (on create), or a bad option
 *  - H5TX_EINVAL: the store is on a network, cluster or FUSE file system
 *    (the message names it; see README, "Sharing a store")
 *  - H5TX_EFORMAT: `path` is not an h5tx store, has a newer format, or has
 *    format 1 (the message names `h5tx upgrade`, which converts it)
 *  - H5TX_ECORRUPT: the index is missing or truncated (an open never
 *    creates it; `h5tx repair` rebuilds it from the page log), or its lock
 *    file is truncated while the store is in use
 *  - H5TX_EROFS: this user may not write the index's lock file, which
 *    every reader needs (the message says so), or may not read a file of
 *    the store
 *  - H5TX_EIO, H5TX_ENOMEM, H5TX_ENOSPC */
H5TX_API int h5tx_store_open(const char *path, const h5tx_store_opts *opts, h5tx_store **out,
                             h5tx_error *err);

/** Close a store handle. Snapshots, files and writers opened from it must be
 * closed first. NULL is allowed. */
H5TX_API void h5tx_store_close(h5tx_store *s);

/** The directory the store was opened with. */
H5TX_API const char *h5tx_store_path(const h5tx_store *s);

/** What recovery changed when this handle opened the store (revisions
 * rolled back or forward, tags removed), one line each ending in '\n'; NULL
 * when this handle did not recover it or there was nothing to change. Valid
 * until the handle is closed. */
H5TX_API const char *h5tx_store_recovered(const h5tx_store *s);

/** The current head revision.
 * @return 0, or H5TX_EIO / H5TX_EFORK */
H5TX_API int h5tx_store_head(h5tx_store *s, h5tx_rev *out, h5tx_error *err);

/** Called with each entry of a store's directory that is not part of the
 * store (a directory's name ends in '/'); non-zero stops the walk. */
typedef int (*h5tx_foreign_fn)(void *arg, const char *name);

/** List, sorted by name, the entries of the store's directory that are not
 * part of the store: files that programs wrote there as plain files (an
 * HDF5 1.10 program ignores HDF5_DRIVER and writes "lab.h5tx/out.h5" as a
 * plain file in the directory), directories, links. They are not in any
 * revision and nothing of h5tx reads them.
 * @return 0, fn's non-zero value, or H5TX_EIO / H5TX_ENOMEM naming the
 *  directory */
H5TX_API int h5tx_store_foreign(h5tx_store *s, h5tx_foreign_fn fn, void *arg, h5tx_error *err);

/* ------------------------------------------------------------------ */
/** @name Snapshots and reading. */

typedef struct h5tx_snap h5tx_snap;

/** Open a snapshot of the whole store at revision `rev` (or H5TX_HEAD).
 *
 * The snapshot pins its revision in the store's live table, so garbage
 * collection keeps everything it can read until h5tx_snap_close() or the
 * process's death (decided by the kernel: the pin is an OFD lock). It holds
 * no LMDB transaction between calls. Should its revision be collected all
 * the same (a lost pin), every read returns H5TX_EGONE naming it.
 * @return 0, or
 *  - H5TX_ENOENT: `rev` is newer than head
 *  - H5TX_EGONE: `rev` was garbage-collected
 *  - H5TX_EBUSY: the reader table is full
 *  - H5TX_EIO, H5TX_ENOMEM, H5TX_EFORK */
H5TX_API int h5tx_snap_open(h5tx_store *s, h5tx_rev rev, h5tx_snap **out, h5tx_error *err);

/** The revision a snapshot sees. */
H5TX_API h5tx_rev h5tx_snap_rev(const h5tx_snap *snap);

/** Close a snapshot and unpin its revision. NULL is allowed. */
H5TX_API void h5tx_snap_close(h5tx_snap *snap);

/** What a snapshot knows of one file. */
typedef struct h5tx_stat {
  uint64_t file_id;   /**< stable id of the file (a re-created name gets a
                           new id) */
  uint64_t length;    /**< length in bytes at the snapshot's revision */
  uint32_t page_size; /**< page size, fixed at creation */
  h5tx_rev created;   /**< revision that created the file */
  h5tx_rev changed;   /**< newest revision <= the snapshot's that changed it */
} h5tx_stat;

/** Look up file `name` in a snapshot.
 * @return 0, or H5TX_ENOENT (no such file at that revision), H5TX_EINVAL
 *  (bad name), H5TX_ECORRUPT, H5TX_EIO */
H5TX_API int h5tx_snap_stat(h5tx_snap *snap, const char *name, h5tx_stat *out, h5tx_error *err);

/** Read `len` bytes at offset `off` of file `name` as of the snapshot into
 * `buf`. Holes and everything at or beyond the file's length read as zeros.
 * @return 0, or H5TX_ENOENT (no such file), H5TX_ECORRUPT (a page failed its
 *  checksum: the message names store, file, page and revision), H5TX_EIO,
 *  H5TX_ENOMEM, H5TX_ERANGE (off + len overflows) */
H5TX_API int h5tx_snap_read(h5tx_snap *snap, const char *name, uint64_t off, void *buf, size_t len,
                            h5tx_error *err);

/** Same as h5tx_snap_read() for a file already looked up with
 * h5tx_snap_stat() in the same snapshot (saves the name lookup). */
H5TX_API int h5tx_snap_read_stat(h5tx_snap *snap, const char *name, const h5tx_stat *st,
                                 uint64_t off, void *buf, size_t len, h5tx_error *err);

/** Called once per file by h5tx_snap_list(); a non-zero return stops the
 * listing and is returned by it. */
typedef int (*h5tx_list_fn)(void *arg, const char *name, const h5tx_stat *st);

/** List the files of a snapshot whose names start with `prefix` (NULL or ""
 * for all), in byte order of their names. Names are read in batches of
 * short transactions; none is open while `fn` runs.
 * @return 0, the callback's non-zero value, or H5TX_EIO / H5TX_ECORRUPT */
H5TX_API int h5tx_snap_list(h5tx_snap *snap, const char *prefix, h5tx_list_fn fn, void *arg,
                            h5tx_error *err);

/* ------------------------------------------------------------------ */
/** @name Writers. */

typedef struct h5tx_writer h5tx_writer;

/** Options for h5tx_writer_open(). Initialise with
 * h5tx_writer_opts_init(); zero fields take the store's defaults. */
typedef struct h5tx_writer_opts {
  int create;         /**< create the file if it does not exist at base */
  int truncate;       /**< start from an empty file (as O_TRUNC) */
  int exclusive;      /**< fail with H5TX_EEXIST if the file exists */
  h5tx_rev base;      /**< base revision (H5TX_HEAD: head at open) */
  uint32_t page_size; /**< page size if the file is created (0: store's) */
  int codec;          /**< -1: store's; else H5TX_CODEC_NONE / _ZSTD / _LZ4 */
  int level;          /**< zstd level when codec is zstd (0: store's) */
  int durability;     /**< -1: store's; else H5TX_SYNC / H5TX_NOSYNC */
} h5tx_writer_opts;

H5TX_API void h5tx_writer_opts_init(h5tx_writer_opts *o);

/** Open a writer on file `name`, taking its lease.
 *
 * A file has one writer at a time. The lease is a slot of the store's live
 * table, held as an OFD lock by the writer's process (no index transaction,
 * no flush); when that process dies the kernel releases it and the next
 * writer takes it over. A live holder is refused by pid and host.
 * Nothing written is visible to anyone else until h5tx_writer_commit().
 * @return 0, or
 *  - H5TX_EBUSY: a live process holds the lease (the message names pid,
 *    host and since when)
 *  - H5TX_ENOENT: the file does not exist at base and `create` is not set,
 *    or `base` is newer than head
 *  - H5TX_EEXIST: `exclusive` is set and the file exists
 *  - H5TX_EGONE: `base` was garbage-collected
 *  - H5TX_EROFS: the store was opened read-only
 *  - H5TX_EINVAL: bad name (empty, absolute, "." or ".." parts, '@' or NUL)
 *    or bad option; H5TX_EIO, H5TX_ENOMEM, H5TX_EFORK */
H5TX_API int h5tx_writer_open(h5tx_store *s, const char *name, const h5tx_writer_opts *opts,
                              h5tx_writer **out, h5tx_error *err);

/** Read what the writer sees: its base revision plus its own changes.
 * Same rules as h5tx_snap_read(). */
H5TX_API int h5tx_writer_read(h5tx_writer *w, uint64_t off, void *buf, size_t len, h5tx_error *err);

/** The largest length of a file, and so the end of every write: 2^63 - 1,
 * what an off_t (and so the mount and HDF5) can hold. */
#define H5TX_MAX_LENGTH ((uint64_t)INT64_MAX)

/** Write `len` bytes at `off`, growing the file if needed.
 * @return 0, or H5TX_EIO (spill file), H5TX_ENOMEM, H5TX_ERANGE (the write
 *  would end past H5TX_MAX_LENGTH; nothing is written), and read errors of
 *  the base pages a partial page write merges with */
H5TX_API int h5tx_writer_write(h5tx_writer *w, uint64_t off, const void *buf, size_t len,
                               h5tx_error *err);

/** Set the file's length. Bytes beyond a shrunk length are gone from every
 * later revision: growing the file again reads zeros there.
 * @return 0, or H5TX_ERANGE (`length` is over H5TX_MAX_LENGTH), and the
 *  errors of h5tx_writer_write() */
H5TX_API int h5tx_writer_truncate(h5tx_writer *w, uint64_t length, h5tx_error *err);

/** The length the writer sees. */
H5TX_API uint64_t h5tx_writer_length(const h5tx_writer *w);

/** The page size of the writer's file. */
H5TX_API uint32_t h5tx_writer_page_size(const h5tx_writer *w);

/** The revision the writer's changes are based on (after a commit: the
 * revision it made). */
H5TX_API h5tx_rev h5tx_writer_base(const h5tx_writer *w);

/** Non-zero when the writer holds changes not yet committed. */
H5TX_API int h5tx_writer_dirty(const h5tx_writer *w);

/** Commit the writer's changes as one new revision, atomically: pages,
 * length, commit record and head move together or not at all. With
 * H5TX_SYNC durability the revision is on disk when this returns.
 * If nothing changed, no revision is made and `*rev` is the base.
 * The writer stays open, based on the new revision.
 * @param[in] message  commit message (NULL for none)
 * @param[out] rev     the new revision (may be NULL)
 * @return 0, or
 *  - H5TX_ECONFLICT: the file changed after the writer's base revision
 *  - H5TX_ENOSPC: the disk is full; nothing was committed, the changes stay
 *    in the writer and the commit may be tried again
 *  - H5TX_ESYNC: the commit landed as revision `*rev` (head, visible to
 *    all, the writer now based on it) but flushing it to disk failed
 *  - H5TX_EIO (nothing was committed), H5TX_ENOMEM, H5TX_EFORK */
H5TX_API int h5tx_writer_commit(h5tx_writer *w, const char *message, h5tx_rev *rev,
                                h5tx_error *err);

/** Progress of a commit: `done` of `total` dirty pages handled (encoded and
 * stored, or found unchanged). Return 0 to go on, or a positive value to
 * stop the commit before its commit point: nothing is committed, the
 * changes stay in the writer (the commit may be tried again), and the
 * commit returns that value. Runs inside the commit's index write
 * transaction, which other writers wait for: keep it short. */
typedef int (*h5tx_commit_fn)(void *arg, uint64_t done, uint64_t total);

/** h5tx_writer_commit() that reports its progress to `fn` (NULL: none)
 * after each dirty page, and can be stopped by it (an interrupted import,
 * say): the commit point is the end of the index transaction, after the
 * last call. @return as h5tx_writer_commit(), or the value `fn` stopped
 * the commit with (`err` then says where it stopped). */
H5TX_API int h5tx_writer_commit_progress(h5tx_writer *w, const char *message, h5tx_commit_fn fn,
                                         void *arg, h5tx_rev *rev, h5tx_error *err);

/** Drop every change since the last commit. */
H5TX_API void h5tx_writer_abort(h5tx_writer *w);

/** Drop uncommitted changes, release the lease and free the writer. NULL is
 * allowed. In a fork child (the writer was opened by its parent) it only
 * frees the child's copy; write, truncate and commit fail there with
 * H5TX_EFORK, reads work. */
H5TX_API void h5tx_writer_close(h5tx_writer *w);

/** Remove file `name` from head as one commit (the file stays readable at
 * earlier revisions). Takes and releases the file's lease.
 * @return 0, or H5TX_ENOENT (no such file at head), H5TX_EBUSY, H5TX_EROFS,
 *  H5TX_EIO, H5TX_ENOSPC */
H5TX_API int h5tx_remove(h5tx_store *s, const char *name, const char *message, h5tx_rev *rev,
                         h5tx_error *err);

/** Rename file `from` to `to` at head as one commit, like rename(2): the
 * file keeps its id and pages (nothing is copied), an existing `to` is
 * replaced, earlier revisions keep both names as they were.
 * @return 0, or H5TX_ENOENT (no `from` at head), H5TX_EBUSY (a live writer
 *  holds either name), H5TX_EINVAL (bad name, or `from` equals `to`),
 *  H5TX_EROFS, H5TX_EIO, H5TX_ENOSPC */
H5TX_API int h5tx_rename(h5tx_store *s, const char *from, const char *to, const char *message,
                         h5tx_rev *rev, h5tx_error *err);

/** Copy file `from` as it is at revision `rev` (H5TX_HEAD: head) to `to`
 * at head as one commit. `to` becomes a new file whose pages share the
 * page log records of `from` at `rev`: no page payload is stored, only
 * index entries (about 100 bytes for each page that is not zeros). An
 * existing `to` is replaced, as by h5tx_rename; copying a file onto its
 * own name from an earlier revision is h5tx_restore.
 * @param rev_out  (may be NULL) the new revision
 * @return 0, or H5TX_ENOENT (no `from` at `rev`, no such revision),
 *  H5TX_EGONE (`rev` was garbage-collected), H5TX_EBUSY (a live writer
 *  holds `to`), H5TX_EEXIST (`to` clashes with a directory or a file
 *  under it), H5TX_EINVAL (bad name, or `from` onto itself at head),
 *  H5TX_EROFS, H5TX_EIO, H5TX_ENOSPC */
H5TX_API int h5tx_copy(h5tx_store *s, const char *from, h5tx_rev rev, const char *to,
                       const char *message, h5tx_rev *rev_out, h5tx_error *err);

/** Make file `name` read at head as it read at revision `rev`, as one
 * commit that stores no page payload: the pages that differ from head
 * share the records of `rev` (or become zeros). If `name` at head is
 * another file than at `rev` (removed and made again, or renamed away),
 * `name` becomes a copy of the file it named at `rev` (h5tx_copy). When
 * nothing differs no revision is made and *rev_out is head.
 * @return 0, or H5TX_ENOENT (no `name` at `rev`, no such revision),
 *  H5TX_EGONE, H5TX_EBUSY (a live writer holds `name`), H5TX_EINVAL (bad
 *  name, or `rev` is H5TX_HEAD), H5TX_EROFS, H5TX_EIO, H5TX_ENOSPC */
H5TX_API int h5tx_restore(h5tx_store *s, const char *name, h5tx_rev rev, const char *message,
                          h5tx_rev *rev_out, h5tx_error *err);

/** Undo the changes of revision `rev` as one new commit at head that
 * stores no page payload: every name `rev` changed names again what it
 * named before `rev` (a file `rev` made loses its name, one it removed or
 * renamed gets its old name back), and every file whose content `rev`
 * changed reads as before it. The revisions in between stay as they are.
 * A writer of a reverted file based before the revert gets H5TX_ECONFLICT
 * at its commit.
 * @return 0, or H5TX_ECONFLICT (a later revision changed one of those
 *  names or files again; the message names one; nothing is committed),
 *  H5TX_ENOENT (no revision `rev`), H5TX_EGONE (`rev` or its parent was
 *  garbage-collected), H5TX_EINVAL (`rev` is 0 or H5TX_HEAD), H5TX_EROFS,
 *  H5TX_EIO, H5TX_ENOSPC */
H5TX_API int h5tx_revert(h5tx_store *s, h5tx_rev rev, const char *message, h5tx_rev *rev_out,
                         h5tx_error *err);

/* ------------------------------------------------------------------ */
/** @name History: commits and tags. */

/** A commit record. Strings point into storage owned by the callback's
 * caller and are valid only during the callback. */
typedef struct h5tx_commit {
  h5tx_rev rev;
  h5tx_rev parent;
  uint64_t time_ns; /**< wall clock, ns since the epoch */
  uint32_t pid;
  const char *host;
  const char *message;
  uint32_t nfiles;
  const char *const *files; /**< names of the files changed */
  uint64_t bytes_added;     /**< bytes of page records this commit stored */
  uint64_t pages_added;     /**< page versions this commit stored */
  int collected;            /**< non-zero once garbage-collected */
} h5tx_commit;

/** Called once per commit by h5tx_log(); non-zero stops the walk. */
typedef int (*h5tx_log_fn)(void *arg, const h5tx_commit *c);

/** Walk commits from revision `from` (or H5TX_HEAD) down to 1, newest
 * first, including collected ones (flagged). Each commit is read in its own
 * short transaction, none is open while `fn` runs (a slow consumer such as
 * `h5tx log | less` holds back nothing).
 * @return 0, the callback's value, H5TX_ECORRUPT, H5TX_EIO */
H5TX_API int h5tx_log(h5tx_store *s, h5tx_rev from, h5tx_log_fn fn, void *arg, h5tx_error *err);

/** Give revision `rev` (or H5TX_HEAD) the tag `name`, moving it if it
 * exists. Tagged revisions are never garbage-collected.
 * @return 0, or H5TX_EINVAL (bad name: empty, '/', '@', or all digits),
 *  H5TX_ENOENT (no such revision), H5TX_EGONE, H5TX_EIO */
H5TX_API int h5tx_tag_set(h5tx_store *s, const char *name, h5tx_rev rev, h5tx_error *err);

/** Delete tag `name`. @return 0 or H5TX_ENOENT, H5TX_EIO */
H5TX_API int h5tx_tag_delete(h5tx_store *s, const char *name, h5tx_error *err);

/** Look up tag `name`. @return 0 or H5TX_ENOENT, H5TX_EIO */
H5TX_API int h5tx_tag_get(h5tx_store *s, const char *name, h5tx_rev *rev, h5tx_error *err);

/** Called once per tag, in name order; non-zero stops. */
typedef int (*h5tx_tag_fn)(void *arg, const char *name, h5tx_rev rev);

H5TX_API int h5tx_tags(h5tx_store *s, h5tx_tag_fn fn, void *arg, h5tx_error *err);

/** Resolve a revision spec: decimal digits are a revision, anything else a
 * tag, "" or "head" is head.
 * @return 0, or H5TX_ENOENT (no such tag or revision), H5TX_EGONE (the
 *  revision was garbage-collected), H5TX_EINVAL (bad tag name) */
H5TX_API int h5tx_rev_parse(h5tx_store *s, const char *spec, h5tx_rev *rev, h5tx_error *err);

/* ------------------------------------------------------------------ */
/** @name Garbage collection and usage. */

typedef struct h5tx_gc_opts {
  uint64_t keep_last;     /**< keep the newest N revisions (0: keep all) */
  uint64_t keep_since_ns; /**< also keep revisions made at or after this
                               time (0: none by time) */
  int dry_run;            /**< report what would be freed, change nothing */
} h5tx_gc_opts;

typedef struct h5tx_gc_result {
  uint64_t revisions_collected; /**< revisions no longer readable */
  uint64_t versions_freed;      /**< page versions deleted */
  uint64_t bytes_freed;         /**< bytes of page records deleted */
  uint64_t revisions_pinned;    /**< kept only because a snapshot reads it */
} h5tx_gc_result;

/** Drop every page version that no kept revision can read. Kept are: head,
 * the newest `keep_last` revisions, revisions since `keep_since_ns`, every
 * tagged revision, and every revision a live snapshot pins (in any process).
 * Revisions not kept become unreadable (H5TX_EGONE); their commit records
 * stay in the log, flagged.
 * @return 0, or H5TX_EIO, H5TX_ENOSPC, H5TX_EROFS, H5TX_ECORRUPT */
H5TX_API int h5tx_gc(h5tx_store *s, const h5tx_gc_opts *opts, h5tx_gc_result *out, h5tx_error *err);

/** Garbage-collect revisions `from` to `to` (inclusive) and nothing else:
 * as h5tx_gc with the rule "every revision outside the range is kept";
 * head, tagged revisions and revisions live readers hold are never
 * collected (`revisions_pinned` counts the held ones). `to` may lie past
 * head. `dry_run`: report only.
 * @return 0, or H5TX_EINVAL (`from` is 0 or above `to`), and h5tx_gc's */
H5TX_API int h5tx_gc_drop(h5tx_store *s, h5tx_rev from, h5tx_rev to, int dry_run,
                          h5tx_gc_result *out, h5tx_error *err);

/** Drop the history of one file, `name` at head, keeping its newest
 * `keep_last` versions: the revision C of its keep_last-th newest change
 * becomes its history cut (lowered to the oldest tagged revision and the
 * oldest revision a live reader holds, when they lie below it; never moved
 * back). From then on the file reads as H5TX_EGONE at revisions below C
 * ("its history before revision C was dropped") while every other file
 * there reads on, and its page versions that no revision from C on reads
 * are freed (page log compacted). Nothing happens when the file has no
 * more than keep_last changes.
 * @param[out] cut  (may be NULL) C, or 0 when nothing was cut
 * @return 0, or H5TX_ENOENT (no `name` at head), H5TX_EINVAL (bad name,
 *  keep_last 0), and h5tx_gc's */
H5TX_API int h5tx_gc_file(h5tx_store *s, const char *name, uint64_t keep_last, int dry_run,
                          h5tx_rev *cut, h5tx_gc_result *out, h5tx_error *err);

typedef struct h5tx_usage {
  uint64_t page_versions; /**< stored page versions, all files, all revs */
  uint64_t page_bytes;    /**< payload bytes in the page log those versions
                               point at (after compression), a payload that
                               several versions share counted for each */
  uint64_t live_bytes;    /**< payload bytes in the page log that page
                               versions point at, each payload once: what
                               the log would hold if it held nothing else */
  uint64_t log_bytes;     /**< size of the page log's segment files: what
                               the payloads take on disk, dead ones (not yet
                               compacted away) and headers included */
  uint64_t segments;      /**< segment files in the page log */
  uint64_t index_bytes;   /**< size of the index's files on disk (names,
                               lengths, page places, commits, tags) */
} h5tx_usage;

/** Measure what the store holds (a scan of the page index in batches of
 * short read transactions, as h5tx_store_stats does; the log's files are
 * measured, not read). */
H5TX_API int h5tx_store_usage(h5tx_store *s, h5tx_usage *out, h5tx_error *err);

/* ------------------------------------------------------------------ */
/** @name Inspection: usage, differences, verification, statistics.
 *
 * Long scans (h5tx_verify, h5tx_store_stats) read in batches of short read
 * transactions, so they never hold back the index's reuse of space; what they report
 * is exact for versions that exist from start to end of the scan. */

/** What one file holds at a snapshot. */
typedef struct h5tx_file_usage {
  uint64_t pages;        /**< stored page versions it reads (holes excluded) */
  uint64_t stored_bytes; /**< payload bytes of those versions in the page log */
  uint64_t zstd_pages;   /**< of which compressed with zstd */
  uint64_t raw_pages;    /**< stored raw */
  uint64_t zero_pages;   /**< zero pages (no payload) */
  uint64_t lz4_pages;    /**< compressed with lz4 */
} h5tx_file_usage;

/** Measure file `name` as of the snapshot.
 * @return 0, or H5TX_ENOENT, H5TX_ECORRUPT, H5TX_EIO */
H5TX_API int h5tx_snap_usage(h5tx_snap *snap, const char *name, h5tx_file_usage *out,
                             h5tx_error *err);

/** Called for each run of consecutive pages whose bytes differ between the
 * two revisions of h5tx_diff(): pages [first, first + count), i.e. bytes
 * [offset, offset + length) (the last run ends at the longer length).
 * A non-zero return stops the walk and is returned by h5tx_diff(). */
typedef int (*h5tx_diff_fn)(void *arg, uint64_t first, uint64_t count, uint64_t offset,
                            uint64_t length);

/** Compare file `name` at revisions `a` and `b` page by page. Pages stored
 * once and shared by both revisions are equal without being read; others
 * compare by content hash. A file absent at one revision counts as empty.
 * @return 0, the callback's value, or H5TX_ENOENT (no such revision, or the
 *  file exists at neither), H5TX_EGONE, H5TX_ECORRUPT, H5TX_EIO */
H5TX_API int h5tx_diff(h5tx_store *s, const char *name, h5tx_rev a, h5tx_rev b, h5tx_diff_fn fn,
                       void *arg, h5tx_error *err);

/** Progress of a long scan: `done` of `total` units (bytes or records). */
typedef void (*h5tx_progress_fn)(void *arg, uint64_t done, uint64_t total);

/** What h5tx_verify() reports: damage (the store does not hold what it
 * should: counted in h5tx_verify_result.problems) or a note (worth knowing,
 * not damage: the torn tail that a writer killed while appending left in
 * its unsealed segment, which nothing reads; counted in notes). */
enum { H5TX_VERIFY_NOTE = 0, H5TX_VERIFY_DAMAGE = 1 };

/** Called once per finding of h5tx_verify(): its kind (H5TX_VERIFY_DAMAGE
 * or H5TX_VERIFY_NOTE) and a message naming it (store and file, page and
 * revision; or index table and key; or page log segment and offset). */
typedef void (*h5tx_problem_fn)(void *arg, int kind, const char *problem);

typedef struct h5tx_verify_result {
  uint64_t page_versions; /**< page versions checked: index value, place,
                               payload read from the page log and decoded */
  uint64_t bytes;         /**< payload bytes of those versions */
  uint64_t records;       /**< other index records checked (files, names,
                               lengths, commits, tags, dedupe, segments,
                               meta, branches, externals) */
  uint64_t problems;      /**< damage reported */
  uint64_t segments;      /**< page log segments scanned */
  uint64_t log_records;   /**< records of those segments whose checks passed */
  uint64_t notes;         /**< notes reported */
} h5tx_verify_result;

/** Check the whole store. The index: every value of every table against
 * its check; every page version's place (well formed, in a segment that
 * exists, inside that segment's valid part, the file's page size), its
 * payload read from the page log, its record check and decoding; that
 * every name, length, file, commit, tag and dedupe record parses and
 * refers to what exists (commits 1..head, each with its commit record in
 * the log, files, revisions). The page log: every segment scanned batch by
 * batch, every record check; a batch that fails ends its segment's valid
 * part and is reported with its offset and why (a torn tail of an unsealed
 * segment whose writer is dead is a note; in a segment sealed, damage).
 * Findings go to `problem` (may be NULL); the scan goes on after each.
 * What is judged is the store as of head when the call starts, pinned
 * (snapshot) until it returns so gc keeps it: records that commits landing
 * during the scan add are skipped, unless they are newer than head even then,
 * and a version that gc or compaction changes during the scan is judged as
 * it is then. `problem` and `progress` (units: segments scanned plus page
 * versions checked) run with no index transaction open, so they may take
 * their time (or even commit).
 * @return 0 when the scan completed (problems or not: see out->problems),
 *  or H5TX_EIO / H5TX_ENOMEM when it could not */
H5TX_API int h5tx_verify(h5tx_store *s, h5tx_problem_fn problem, h5tx_progress_fn progress,
                         void *arg, h5tx_verify_result *out, h5tx_error *err);

typedef struct h5tx_stats {
  h5tx_rev head;
  uint64_t revisions; /**< commit records */
  uint64_t collected; /**< of which garbage-collected */
  uint64_t tags;
  uint64_t files;          /**< files at head */
  uint64_t logical_bytes;  /**< sum of their lengths */
  uint64_t page_versions;  /**< stored page versions, all revisions */
  uint64_t stored_bytes;   /**< payload bytes those versions point at, a
                                shared payload counted for each */
  uint64_t zstd_bytes;     /**< of which zstd payloads ... */
  uint64_t zstd_raw_bytes; /**< ... which decode to this many bytes */
  uint64_t written_bytes;  /**< page bytes all commits changed, as if each
                                changed page had been stored in full */
  uint64_t live_bytes;     /**< payload bytes in the page log that page
                                versions point at, each payload once (as
                                h5tx_usage.live_bytes) */
  uint64_t log_bytes;      /**< size of the page log's segment files */
  uint64_t segments;       /**< segment files in the page log */
  uint64_t index_bytes;    /**< size of the index's files on disk */
  uint32_t readers;        /**< live snapshots pinning a revision, all processes */
  uint32_t leases;         /**< live writers */
  uint64_t lz4_bytes;      /**< lz4 payloads among stored_bytes ... */
  uint64_t lz4_raw_bytes;  /**< ... which decode to this many bytes */
} h5tx_stats;

/** Gather statistics of the whole store (a full scan of the page index).
 * @return 0, or H5TX_EIO, H5TX_ECORRUPT, H5TX_ENOMEM */
H5TX_API int h5tx_store_stats(h5tx_store *s, h5tx_stats *out, h5tx_error *err);

/** A writer's lease, as h5tx_leases() reports it. */
typedef struct h5tx_lease {
  const char *name; /**< file */
  uint32_t pid;
  const char *host;
  uint64_t since_ns;
  int alive; /**< 0 when its holder is certainly dead (taken over on the
                  next open) */
} h5tx_lease;

typedef int (*h5tx_lease_fn)(void *arg, const h5tx_lease *lease);

/** List the leases recorded in the store, in file name order.
 * @return 0, the callback's non-zero value, H5TX_EIO */
H5TX_API int h5tx_leases(h5tx_store *s, h5tx_lease_fn fn, void *arg, h5tx_error *err);

/** Called for each live snapshot pin: its process and revision. */
typedef int (*h5tx_reader_fn)(void *arg, uint32_t pid, h5tx_rev rev, uint64_t since_ns);

/** List the live readers (snapshots and writers' bases) of every process.
 * @return 0 or the callback's non-zero value */
H5TX_API int h5tx_readers(h5tx_store *s, h5tx_reader_fn fn, void *arg, h5tx_error *err);

/* ------------------------------------------------------------------ */
/** @name Maintenance: format upgrade and index repair.
 *
 * Both work on a store that no process has open: they take no store handle,
 * and refuse (H5TX_EBUSY) while any handle has the store open, in any
 * process, this one included; opens that come meanwhile wait until they
 * are done. They are what `h5tx upgrade` and `h5tx repair` run
 * (docs/FORMAT.md, "Format 1 → 2" and "Repair"). */

/** Called once per line a maintenance call has to tell its user: `line` is
 * one line of text, without a newline, valid only during the call; `arg` is
 * the caller's. Lines come in the order things happen. */
typedef void (*h5tx_say_fn)(void *arg, const char *line);

/** Convert the format-1 store at `path` to format 2 in place, keeping every
 * revision (its number, parent, time, pid, host, message, and whether gc
 * collected it), every file at every readable revision byte for byte, every
 * tag and the store's defaults (page size, codec, durability).
 *
 * A new format-2 store (with a new store id) is written beside the old one,
 * as `.NAME.h5tx.tmp-PID-RANDOM`, every format-1 record checksum verified on
 * the way; then the old store is renamed to `.NAME.h5tx.format1-TIME` (kept
 * for the user to delete: nothing reads it any more) and the new one takes
 * its name, the parent directory synced. Any failure before the renames
 * leaves the old store exactly as it was and removes the new one.
 *
 * A store that has format 2 already is left alone: `say` gets "store S has
 * format 2 already: nothing to upgrade" and the call returns 0.
 * @param[in] path  the store directory (a name ending in ".h5tx")
 * @param[in] say   called with what the upgrade does (what it starts, where
 *                  the old store is kept); NULL: nothing is said
 * @param[in] arg   passed to `say`
 * @param[out] err  the error, when one is returned (may be NULL)
 * @return 0, or
 *  - H5TX_EINVAL: `path` is NULL or empty
 *  - H5TX_EFORMAT: `path` is not an h5tx store (no marker), or has a format
 *    newer than this library reads
 *  - H5TX_EBUSY: a process has the store open (the message names it and
 *    the revision it reads or the file it writes, when it has a snapshot or
 *    a writer open); nothing was changed
 *  - H5TX_ECORRUPT: a record of the format-1 store failed its check (the
 *    message names file id, page and revision); nothing was changed
 *  - H5TX_ENOSPC: the disk filled while the new store was written; nothing
 *    was changed
 *  - H5TX_EIO: a read, write, sync or rename failed (the message says which
 *    and, when it failed between the two renames, where the old store is)
 *  - H5TX_EROFS: the store or its parent directory may not be written
 *  - H5TX_ENOMEM */
H5TX_API int h5tx_store_upgrade(const char *path, h5tx_say_fn say, void *arg, h5tx_error *err);

/** Lines of h5tx_store_repair() that name something it could not rebuild
 * (a revision, a tag, a segment or a record of the page log) start with
 * this; its other lines are notes (where the old index was put, which
 * defaults the store now has). */
#define H5TX_REPAIR_LOST "not rebuilt: "

/** Rebuild the index of the format-2 store at `path` from its page log, for
 * when the index is lost or damaged (`index/` deleted, `data.mdb` cut short
 * or corrupt). The old `index/` is moved aside to `index.damaged-TIME` in
 * the store (kept for the user to delete); a new one is built from every
 * intact record of the page log: each revision in order with its commit
 * record (message, time, pid, host, parent), files, names, lengths and page
 * versions, then the tags. Revisions gc had collected come back collected.
 * The store's defaults (page size, codec, durability) are taken from the
 * old index when it can still be read, else the built-in ones are used
 * (said). History stops before the first revision whose records are not
 * all intact in the log: that revision and every later one are named in a
 * line starting with H5TX_REPAIR_LOST, and so is every tag naming one of
 * them (dropped) and every unreadable part of the log.
 * @param[in] path   the store directory
 * @param[in] say    called with every note and every H5TX_REPAIR_LOST line;
 *                   NULL: nothing is said
 * @param[in] arg    passed to `say`
 * @param[out] head  the head of the rebuilt index: the newest revision
 *                   rebuilt (0 when none); may be NULL
 * @param[out] err   the error, when one is returned (may be NULL)
 * @return 0 once the index is rebuilt, whatever it could not rebuild (see
 *  the H5TX_REPAIR_LOST lines), or
 *  - H5TX_EINVAL: `path` is NULL or empty
 *  - H5TX_EFORMAT: `path` is not an h5tx store, or has a newer format, or
 *    has format 1 (the message says to run `h5tx upgrade` instead: a
 *    format-1 store has no page log to rebuild from)
 *  - H5TX_EBUSY: a process has the store open (the message names it and
 *    the revision it reads or the file it writes, when it has a snapshot or
 *    a writer open); nothing was changed
 *  - H5TX_ECORRUPT: a commit record that passed its check cannot be applied
 *    (the message names the revision); the index is then partly rebuilt:
 *    run the repair again once the log is mended, or restore a copy
 *  - H5TX_EIO: moving the old index aside, writing the new one or syncing
 *    failed (the message names the file)
 *  - H5TX_ENOSPC: the disk filled while the new index was written
 *  - H5TX_EROFS: the store may not be written
 *  - H5TX_ENOMEM */
H5TX_API int h5tx_store_repair(const char *path, h5tx_say_fn say, void *arg, h5tx_rev *head,
                               h5tx_error *err);

/** Copy store `s` into a new store at `dest` while other handles and
 * processes go on writing it: the copy holds every revision committed when
 * it began (with tags, branches and commit messages), as the store's index
 * had them at one moment, and every page log record those name. It is made
 * in a temporary directory beside `dest`, synced and renamed into place,
 * so `dest` appears whole or not at all. Garbage collection waits for the
 * copy (and the copy for a running gc); writers and readers do not. The
 * copy has the store's id and is a store of its own: `h5tx verify` checks
 * it, and it opens and is written like any other.
 * @param[out] head   (may be NULL) the newest revision in the copy
 * @param[out] bytes  (may be NULL) page log bytes copied
 * @return 0, or H5TX_EINVAL (`dest` does not end in .h5tx), H5TX_EEXIST
 *  (`dest` exists), H5TX_ENOENT (its parent directory does not), H5TX_EIO,
 *  H5TX_ENOSPC (nothing is left behind), H5TX_ENOMEM */
H5TX_API int h5tx_store_backup(h5tx_store *s, const char *dest, h5tx_rev *head, uint64_t *bytes,
                               h5tx_error *err);

/* ------------------------------------------------------------------ */
/** @name Configuration strings.
 *
 * The one parser of the `key=value;key=value` strings that tune h5tx
 * wherever a program hands over text (the HDF5 driver's fapl and
 * HDF5_DRIVER_CONFIG, the CLI, the mount). Whitespace around keys and values
 * is ignored; empty items (";;", a trailing ";") are allowed. Core parses
 * the keys below; keys that only one caller understands (the driver's
 * `store`, `commit` and `plain`) are named and parsed by that caller through
 * h5tx_config_parse_with(). */

#define H5TX_CONFIG_MAX 4096

typedef struct h5tx_config {
  char rev[256];      /**< rev=N|TAG: open that revision, read-only
                           ("" for head) */
  uint32_t page_size; /**< page_size=BYTES (K/M suffix), power of
                           two, for files created (0: store's) */
  int codec;          /**< codec=none|zstd|zstd:LEVEL (-1: store's) */
  int level;          /**< codec level (0: store's) */
  int durability;     /**< durability=sync|nosync (-1: store's) */
  uint64_t cache;     /**< cache=BYTES: a writer's dirty pages kept in
                           memory before spilling (0: default) */
  char message[1024]; /**< message=TEXT: the commit message of the
                           revisions made ("" for the default) */
} h5tx_config;

/** Fill `c` with the defaults. */
H5TX_API void h5tx_config_init(h5tx_config *c);

/** Parse `text` (NULL or "" is allowed) over the values already in `c`.
 * @return 0, or H5TX_EINVAL naming the unknown key, the repeated key, or the
 *  key whose value is bad and why. `c` is unchanged on error. */
H5TX_API int h5tx_config_parse(const char *text, h5tx_config *c, h5tx_error *err);

/** A caller's own config key `key` with value `value` (trimmed): 0, or an
 * error in `err` (h5tx_config_bad() words it as core does). */
typedef int (*h5tx_config_key_fn)(void *arg, const char *key, const char *value, h5tx_error *err);

/** h5tx_config_parse(), where the NULL-terminated list `keys` (at most 26)
 * names the caller's own keys: each one given is handed to `fn`, once (a
 * key given twice is an error), and an unknown key's message lists them
 * too. On error `c` is unchanged, but `fn` may have seen earlier items:
 * let it fill a copy that the caller keeps only on success. */
H5TX_API int h5tx_config_parse_with(const char *text, h5tx_config *c, const char *const *keys,
                                    h5tx_config_key_fn fn, void *arg, h5tx_error *err);

/** Fill `err` with "config key 'KEY': bad value 'VALUE': WHY".
 * @return H5TX_EINVAL */
H5TX_API int h5tx_config_bad(h5tx_error *err, const char *key, const char *value, const char *why);

/** Write `c` back as a config string (only the keys that differ from the
 * defaults) into `buf` of `cap` bytes; returns the length it needs. */
H5TX_API size_t h5tx_config_format(const h5tx_config *c, char *buf, size_t cap);

/** The name of codec `codec` in config strings ("none", "zstd"), or NULL
 * for a codec h5tx does not know. */
H5TX_API const char *h5tx_codec_name(int codec);

#ifdef __cplusplus
}
#endif
#endif /* H5TX_H */
