/* fs_internal.h - what the parts of the h5tx file system share (fs.c says
 * which file holds what): the inode, writer and handle types, the
 * file system's state, and the functions one part calls in another.
 * Internal to the h5tx_fuse library.
 *
 * Inodes (README, "h5tx mount"):
 * - a head file name resolves, on every lookup, to the inode of one
 *   immutable content version, keyed by (file id, revision that last
 *   changed it); a revision's file to another, read-only one with the same
 *   key. Content inodes keep the kernel's page cache across opens;
 * - a head file opened for writing gets a writer inode of its own: the open
 *   of the content inode answers ESTALE, the kernel resolves the name again
 *   (LOOKUP_REVAL) and the lookup, from the same thread, returns the writer
 *   inode; other processes keep the content inodes, untouched by the
 *   writer, while its writing processes look the name up to the writer;
 * - directories are implicit (prefixes of file names), or made by mkdir and
 *   kept in memory; `@REV` and `@TAG` directories appear on lookup.
 * Locks: fs->lock guards the tables, counts and lists; a writer's own mutex
 * guards its h5tx_writer; a handle's mutex its snapshot. Order: fs->lock,
 * then a writer's lock; never the reverse. */
#ifndef H5TX_FUSE_FS_INTERNAL_H
#define H5TX_FUSE_FS_INTERNAL_H

#include "fs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define LONG_TIMEOUT 86400.0              /* immutable: a day */
#define MARKER_NS (10ull * 1000000000ull) /* an ESTALE retry comes within this */
#define REAP_NS (10ull * 1000000000ull)   /* a writer nobody opened goes after this */
#define NMARKERS 64
#define DEFAULT_BLKSIZE 65536u

enum kind {
  K_HDIR,   /* head directory ("" is the root) */
  K_RDIR,   /* directory of a revision (its "@REV" root has path "") */
  K_HFILE,  /* head file: one content version, read-only */
  K_RFILE,  /* a revision's file: one content version, read-only */
  K_WFILE,  /* head file being written */
  K_MDIR,   /* .h5tx */
  K_MLOG,   /* .h5tx/log */
  K_MSTATS, /* .h5tx/stats */
};

enum { INO_ROOT = 1, INO_META, INO_LOG, INO_STATS, INO_FIRST };

/* A file being written: the daemon's one writer of that name. */
typedef struct wstate {
  pthread_mutex_t lock; /* guards the next three */
  h5tx_writer *w;       /* NULL once closed */
  int failed;           /* a write or truncate failed: nothing more is committed */
  int commit_failed;    /* the last commit failed */
  /* under fs->lock: */
  int busy;          /* opening or closing its h5tx_writer: others wait on fs->cond */
  int wfhs;          /* open handles on it: for writing, or a writing process's reads */
  uint64_t since_ns; /* when last handed out without a handle */
  /* read anywhere: */
  _Atomic int new_file; /* not at head yet */
  _Atomic uint64_t length, mtime_ns;
  _Atomic uint64_t committed; /* its length at head (0: not there yet) */
} wstate;

typedef struct node node;

struct node {
  uint64_t ino;
  int kind;
  int fixed;        /* root and .h5tx: never freed */
  char *key;        /* its key in the key index */
  int indexed;      /* in the key index (a writer: attached to its name) */
  char *path;       /* file name, or directory path ("" for a root) */
  uint64_t nlookup; /* lookups the kernel holds */
  uint64_t nref;    /* open handles and transient holds */
  node *ino_next, *key_next;
  node *wnext, *wprev; /* attached writers */
  h5tx_rev rev;        /* directories of a revision: it; content: a revision
                          that reads exactly this content (the newest seen) */
  uint64_t root;       /* directories of a revision: their "@" root */
  int moving;          /* a "@TAG" root: the name may move to another revision */
  uint64_t file_id, changed, length, mtime_ns;
  uint32_t page_size;
  wstate *w; /* K_WFILE */
};

enum { F_READ, F_WRITE, F_TEXT, F_DIR };

/* An open handle (fi->fh). */
typedef struct fh fh;

struct fh {
  int kind;
  node *n;
  pthread_mutex_t lock; /* one thread at a time uses the snapshot */
  h5tx_snap *snap;      /* F_READ */
  h5tx_stat st;
  int has_file; /* F_READ: the file exists in the snapshot */
  char *buf;    /* F_TEXT, F_DIR: the content */
  size_t len;
  /* F_WRITE (a handle on a writer: opened for writing, or for reading by a
   * process that writes the file), under fs->lock: */
  int wr;       /* opened for writing */
  pid_t opener; /* the process that opened it (0: unknown) */
  int done;     /* the opener has closed its last descriptor of the file */
  uint64_t ino; /* the inode it was opened on */
  fh *next, *prev;
};

/* A thread whose open of a content inode got ESTALE: its next lookup of
 * `name` gets the writer inode. */
typedef struct marker {
  pid_t tid;
  char *name;
  uint64_t t_ns;
} marker;

/* An invalidation for the helper thread to send. */
typedef struct notif {
  struct notif *next;
  char name[]; /* head file whose entry moved */
} notif;

struct h5tx_fuse__fs {
  h5tx_store *s;
  h5tx_config cfg;
  int use_syslog;
  struct fuse_session *se;
  uid_t uid; /* owner, group and permission bits of everything in the */
  gid_t gid; /* mount: the store directory's */
  mode_t perm;
  uint64_t mount_ns;
  h5tx_fuse__mountid mid; /* the mount, for h5tx_fuse__proc_holds() */
  int have_mid;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  node **by_ino, **by_key;
  size_t nb, n_nodes, n_keys; /* both tables have nb buckets */
  node *wlist;
  uint64_t next_ino;
  fh *fhs;
  marker markers[NMARKERS];
  char **memdirs;
  size_t nmem, capmem;

  _Atomic uint64_t reads, bytes, commits;

  pthread_mutex_t qlock;
  pthread_cond_t qcond;
  notif *qhead, *qtail;
  int stopping;
  int helper_started;
  pthread_t helper;
};

/* A writer's size as its writing processes see it, or as committed. */
enum { V_COMMITTED, V_WRITER };

/* ---- fs.c ---- */
uint64_t h5tx_fuse__now_ns(void);
char *h5tx_fuse__xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *h5tx_fuse__join(const char *dir, const char *name);
int h5tx_fuse__starts_with_dir(const char *name, const char *dir);
int h5tx_fuse__to_errno(int code);
uint64_t h5tx_fuse__commit_time(h5tx_fuse__fs *fs, h5tx_rev rev);
int h5tx_fuse__snap_has_dir(h5tx_snap *snap, const char *dir);
void h5tx_fuse__give_back_memory(void);
void h5tx_fuse__notify_moved(h5tx_fuse__fs *fs, const char *name);

/* ---- inodes.c ---- */
node *h5tx_fuse__key_find(h5tx_fuse__fs *fs, const char *key);
void h5tx_fuse__key_remove(h5tx_fuse__fs *fs, node *n);
node *h5tx_fuse__node_new(h5tx_fuse__fs *fs, int kind, uint64_t ino, const char *key,
                          const char *path);
void h5tx_fuse__node_destroy(node *n);
void h5tx_fuse__maybe_free(h5tx_fuse__fs *fs, node *n);
node *h5tx_fuse__node_get(h5tx_fuse__fs *fs, int kind, const char *key, const char *path);
marker *h5tx_fuse__marker_find(h5tx_fuse__fs *fs, pid_t tid, const char *name, uint64_t now);
void h5tx_fuse__marker_set(h5tx_fuse__fs *fs, pid_t tid, const char *name, uint64_t now);
void h5tx_fuse__marker_clear(h5tx_fuse__fs *fs, pid_t tid);
ssize_t h5tx_fuse__memdir_index(h5tx_fuse__fs *fs, const char *path);
int h5tx_fuse__memdir_add(h5tx_fuse__fs *fs, const char *path);
void h5tx_fuse__memdir_del(h5tx_fuse__fs *fs, size_t i);
void h5tx_fuse__memdir_keep_parents(h5tx_fuse__fs *fs, const char *name);
int h5tx_fuse__mem_has_under(h5tx_fuse__fs *fs, const char *dir);
void h5tx_fuse__fill_attr(h5tx_fuse__fs *fs, const node *n, int view, struct stat *st);
void h5tx_fuse__reply_entry_unlock(h5tx_fuse__fs *fs, fuse_req_t req, node *n, double entry_timeout,
                                   int view);
void h5tx_fuse__reply_attr_of(h5tx_fuse__fs *fs, fuse_req_t req, node *n, int view);
void h5tx_fuse__reply_writer_attr(h5tx_fuse__fs *fs, fuse_req_t req, node *w, uint64_t ino);
node *h5tx_fuse__get_node(h5tx_fuse__fs *fs, fuse_ino_t ino);
h5tx_fuse__fs *h5tx_fuse__fs_of(fuse_req_t req);
void h5tx_fuse__op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void h5tx_fuse__op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void h5tx_fuse__op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void h5tx_fuse__op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* ---- reading.c ---- */
fh *h5tx_fuse__fh_new(h5tx_fuse__fs *fs, int kind, node *n);
void h5tx_fuse__fh_free(h5tx_fuse__fs *fs, fh *f);
fh *h5tx_fuse__get_fh(const struct fuse_file_info *fi);
int h5tx_fuse__open_snapshot(h5tx_fuse__fs *fs, node *n, h5tx_rev rev, fh **out);
void h5tx_fuse__reply_open_fh(h5tx_fuse__fs *fs, fuse_req_t req, struct fuse_file_info *fi, fh *f);
void h5tx_fuse__op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void h5tx_fuse__reply_slice(fuse_req_t req, const fh *f, size_t size, off_t off);
void h5tx_fuse__op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi);

/* ---- writers.c ---- */
int h5tx_fuse__writes_it(h5tx_fuse__fs *fs, const node *w, pid_t tgid);
int h5tx_fuse__sees_writes(h5tx_fuse__fs *fs, fuse_req_t req, const node *w);
int h5tx_fuse__w_get(h5tx_fuse__fs *fs, const char *name, int create, int excl, node **out);
int h5tx_fuse__sent_back_before(h5tx_fuse__fs *fs, fuse_req_t req, const char *name);
void h5tx_fuse__redirect_to_writer(h5tx_fuse__fs *fs, fuse_req_t req, const char *name);
void h5tx_fuse__op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                           struct fuse_file_info *fi);
fh *h5tx_fuse__write_handle(h5tx_fuse__fs *fs, fuse_req_t req, node *w, uint64_t ino, int wr,
                            struct fuse_file_info *fi);
void h5tx_fuse__open_writer(h5tx_fuse__fs *fs, fuse_req_t req, node *n, struct fuse_file_info *fi,
                            int wr);
void h5tx_fuse__open_write_here(h5tx_fuse__fs *fs, fuse_req_t req, const node *h,
                                struct fuse_file_info *fi);
void h5tx_fuse__op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                          struct fuse_file_info *fi);
void h5tx_fuse__op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                         struct fuse_file_info *fi);

/* ---- commit_rule.c ---- */
int h5tx_fuse__w_commit(h5tx_fuse__fs *fs, node *n);
void h5tx_fuse__release_write(h5tx_fuse__fs *fs, fh *f);
void h5tx_fuse__op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void h5tx_fuse__op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void h5tx_fuse__op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* ---- dirs.c ---- */
void h5tx_fuse__op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void h5tx_fuse__op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi);
void h5tx_fuse__op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void h5tx_fuse__op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void h5tx_fuse__op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void h5tx_fuse__op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void h5tx_fuse__op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                          const char *newname, unsigned int flags);

/* ---- textfiles.c ---- */
void h5tx_fuse__open_text(h5tx_fuse__fs *fs, fuse_req_t req, node *n, struct fuse_file_info *fi);

#endif /* H5TX_FUSE_FS_INTERNAL_H */
