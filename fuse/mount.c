/* mount.c - setting up and taking down h5tx mount: options, the FUSE
 * session, the daemon (forked before the store is opened: an LMDB
 * environment never crosses fork), signals, and h5tx umount.
 *
 * The daemon listens on an abstract unix socket named after its mount point
 * and never accepts: `h5tx umount` connects to it before unmounting and
 * waits until the daemon has closed the store and exited (the socket closes
 * with it). */
#include "h5tx_fuse.h"

#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#define UMOUNT_WAIT_MS 60000

void h5tx_fuse_opts_init(h5tx_fuse_opts *o) { memset(o, 0, sizeof *o); }

static int fail(h5tx_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(h5tx_error *err, int code, const char *fmt, ...) {
  if (err) {
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* The driver's keys, which choose or open something a mount has of its
 * own: refused by name. */
static const char *const driver_keys[] = {"store", "commit", "plain", NULL};

static int driver_key(void *arg, const char *key, const char *value, h5tx_error *err) {
  (void)arg;
  (void)value;
  if (strcmp(key, "store") == 0)
    return fail(err, H5TX_EINVAL,
                "config key 'store' does not apply to a mount (the store is its first argument)");
  if (strcmp(key, "commit") == 0)
    return fail(err, H5TX_EINVAL,
                "config key 'commit' does not apply to a mount (it commits at fsync and close)");
  return fail(err, H5TX_EINVAL, "config key '%s' does not apply to a mount", key);
}

/* The writers' settings; keys that choose or open something else are
 * refused by name. */
static int parse_config(const char *text, h5tx_config *cfg, h5tx_error *err) {
  h5tx_config_init(cfg);
  int rc = h5tx_config_parse_with(text, cfg, driver_keys, driver_key, NULL, err);
  if (rc) return rc;
  h5tx_config d;
  h5tx_config_init(&d);
  if (strcmp(cfg->rev, d.rev) != 0)
    return fail(err, H5TX_EINVAL,
                "config key 'rev' does not apply to a mount (revisions are its @REV directories)");
  if (cfg->message[0])
    return fail(err, H5TX_EINVAL,
                "config key 'message' does not apply to a mount (its commits name the program)");
  return 0;
}

/* The absolute form of `path` without following its last part (which may be
 * a dead FUSE mount that cannot be stat'ed). */
static char *abs_path(const char *path) {
  char *r = realpath(path, NULL);
  if (r) return r;
  char *copy = strdup(path);
  if (!copy) return NULL;
  size_t n = strlen(copy);
  while (n > 1 && copy[n - 1] == '/')
    copy[--n] = 0;
  char *slash = strrchr(copy, '/');
  const char *base = slash ? slash + 1 : copy;
  char *dir =
      slash ? (slash == copy ? strdup("/") : strndup(copy, (size_t)(slash - copy))) : strdup(".");
  char *rdir = dir ? realpath(dir, NULL) : NULL;
  char *out = NULL;
  if (rdir) {
    size_t len = strlen(rdir) + strlen(base) + 2;
    if ((out = malloc(len))) snprintf(out, len, "%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "", base);
  }
  free(rdir);
  free(dir);
  free(copy);
  return out;
}

/* The abstract socket address of the daemon serving mount point `mnt`. */
static socklen_t socket_addr(const char *mnt, struct sockaddr_un *a) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = mnt; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ull;
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "h5tx-mount:%016" PRIx64, h);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static int listen_socket(const char *mnt) {
  struct sockaddr_un a;
  socklen_t len = socket_addr(mnt, &a);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, (struct sockaddr *)&a, len) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int connect_socket(const char *mnt) {
  struct sockaddr_un a;
  socklen_t len = socket_addr(mnt, &a);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&a, len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* FUSE's option syntax: ',' separates, '\' escapes. */
static char *escape_opt(const char *s) {
  char *out = malloc(2 * strlen(s) + 1), *o = out;
  if (!out) return NULL;
  for (; *s; s++) {
    if (*s == ',' || *s == '\\') *o++ = '\\';
    *o++ = *s;
  }
  *o = 0;
  return out;
}

static struct fuse_session *new_session(const char *store, const char *user_opts, h5tx_fuse__fs *fs,
                                        h5tx_error *err) {
  char *fsname = escape_opt(store);
  if (!fsname) return NULL;
  size_t len = strlen(fsname) + (user_opts ? strlen(user_opts) : 0) + 64;
  char *opts = malloc(len);
  if (!opts) {
    free(fsname);
    return NULL;
  }
  snprintf(opts, len, "fsname=%s,subtype=h5tx,default_permissions%s%s", fsname,
           user_opts && user_opts[0] ? "," : "", user_opts ? user_opts : "");
  free(fsname);
  char *argv[] = {"h5tx", "-o", opts, NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, argv);
  struct fuse_session *se = fuse_session_new(&args, &h5tx_fuse__ops, sizeof h5tx_fuse__ops, fs);
  fuse_opt_free_args(&args);
  free(opts);
  if (!se)
    fail(err, H5TX_EINVAL, "bad FUSE options '%s' (libfuse said why above)",
         user_opts ? user_opts : "");
  return se;
}

/* Mount and serve until unmounted or signalled. `ready` (>= 0) is the pipe
 * to the waiting parent of a daemon: it gets an h5tx_error (code 0: ready)
 * once the mount is up, and the daemon then detaches from the terminal. */
static int serve(h5tx_fuse__fs *fs, struct fuse_session *se, const char *store, const char *mnt,
                 unsigned max_threads, int ready, h5tx_error *err) {
  int mounted = 0, handlers = 0, sock = -1;
  int rc = h5tx_fuse__fs_open(fs, store, err);
  if (!rc) {
    if (fuse_session_mount(se, mnt) != 0)
      rc = fail(err, H5TX_EIO, "cannot mount %s on %s (libfuse said why above)", store, mnt);
    else
      mounted = 1;
  }
  if (!rc) {
    if (fuse_set_signal_handlers(se) != 0)
      rc = fail(err, H5TX_EIO, "cannot set signal handlers");
    else
      handlers = 1;
  }
  if (!rc) {
    sock = listen_socket(mnt);
    rc = h5tx_fuse__fs_start(fs, se, mnt, err);
  }
  if (ready >= 0) {
    h5tx_error ok = {0, ""};
    ssize_t w = write(ready, rc ? err : &ok, sizeof ok);
    (void)w;
    close(ready);
    if (!rc) { /* detach from the terminal */
      int null = open("/dev/null", O_RDWR);
      if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2) close(null);
      }
      if (chdir("/") != 0) { /* nothing depends on the directory */
      }
    }
  }
  if (!rc) {
    struct fuse_loop_config *lc = fuse_loop_cfg_create();
    if (lc) {
      fuse_loop_cfg_set_max_threads(lc, max_threads ? max_threads : 10);
      fuse_loop_cfg_set_clone_fd(lc, 0);
    }
    int lrc = lc ? fuse_session_loop_mt(se, lc) : -ENOMEM;
    fuse_loop_cfg_destroy(lc);
    if (lrc < 0) rc = fail(err, H5TX_EIO, "serving %s: %s", mnt, strerror(-lrc));
  }
  h5tx_fuse__fs_stop(fs); /* before the device closes: it writes to it */
  if (mounted) fuse_session_unmount(se);
  if (handlers) fuse_remove_signal_handlers(se);
  /* The store is closed before the socket: `h5tx umount` returns after. */
  h5tx_fuse__fs_free(fs);
  if (sock >= 0) close(sock);
  return rc;
}

static int is_h5tx_mount(const char *mnt);

int h5tx_fuse_mount(const char *store, const char *dir, const h5tx_fuse_opts *o, h5tx_error *err) {
  h5tx_fuse_opts defaults;
  if (!o) {
    h5tx_fuse_opts_init(&defaults);
    o = &defaults;
  }
  h5tx_config cfg;
  int rc = parse_config(o->config, &cfg, err);
  if (rc) return rc;
  char *abs_store = realpath(store, NULL);
  if (!abs_store) return fail(err, H5TX_ENOENT, "no store at %s: %s", store, strerror(errno));
  char *mnt = realpath(dir, NULL);
  int e = errno;
  struct stat st;
  if (!mnt || stat(mnt, &st) != 0 || !S_ISDIR(st.st_mode)) {
    rc = fail(err, mnt || e == ENOENT ? H5TX_ENOENT : H5TX_EIO, "mount point %s: %s", dir,
              mnt ? "not a directory" : strerror(e));
    free(mnt);
    free(abs_store);
    return rc;
  }
  if (is_h5tx_mount(mnt)) {
    rc = fail(err, H5TX_EBUSY, "%s is already an h5tx mount: unmount it first (h5tx umount %s)",
              dir, dir);
    free(mnt);
    free(abs_store);
    return rc;
  }
  size_t sl = strlen(abs_store);
  if (strncmp(mnt, abs_store, sl) == 0 && (mnt[sl] == 0 || mnt[sl] == '/')) {
    rc = fail(err, H5TX_EINVAL, "mount point %s is inside the store %s", dir, store);
    free(mnt);
    free(abs_store);
    return rc;
  }
  h5tx_fuse__fs *fs = NULL;
  struct fuse_session *se = NULL;
  if (!(rc = h5tx_fuse__fs_new(&cfg, !o->foreground, &fs, err)) &&
      !(se = new_session(abs_store, o->fuse_opts, fs, err)))
    rc = err && err->code ? err->code : H5TX_ENOMEM;
  if (rc) {
    h5tx_fuse__fs_free(fs);
    free(mnt);
    free(abs_store);
    return rc;
  }

  if (o->foreground) { /* serve() frees fs */
    rc = serve(fs, se, abs_store, mnt, o->max_threads, -1, err);
    fuse_session_destroy(se);
    free(mnt);
    free(abs_store);
    return rc;
  }

  /* A daemon: fork twice (no zombie, no terminal), open the store in the
   * grandchild, and wait here for its word that the mount is up. */
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    rc = fail(err, H5TX_EIO, "pipe: %s", strerror(errno));
  } else {
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
      close(p[0]);
      setsid();
      pid_t daemon = fork();
      if (daemon != 0) _exit(daemon < 0 ? 1 : 0);
      openlog("h5tx-mount", LOG_PID, LOG_DAEMON);
      h5tx_error derr = {0, ""};
      int drc = serve(fs, se, abs_store, mnt, o->max_threads, p[1], &derr);
      if (drc && derr.msg[0]) syslog(LOG_ERR, "%s", derr.msg);
      fuse_session_destroy(se);
      free(mnt);
      free(abs_store);
      closelog();
      exit(drc ? 1 : 0);
    }
    close(p[1]);
    if (child < 0) {
      rc = fail(err, H5TX_EIO, "fork: %s", strerror(errno));
    } else {
      waitpid(child, NULL, 0);
      h5tx_error got = {0, ""};
      size_t n = 0;
      while (n < sizeof got) {
        ssize_t r = read(p[0], (char *)&got + n, sizeof got - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
      }
      if (n != sizeof got)
        rc = fail(err, H5TX_EIO, "the daemon serving %s exited before the mount was ready", dir);
      else if (got.code)
        rc = fail(err, got.code, "%s", got.msg);
    }
    close(p[0]);
  }
  /* The parent's copy: never mounted, holds no store. */
  fuse_session_destroy(se);
  h5tx_fuse__fs_free(fs);
  free(mnt);
  free(abs_store);
  return rc;
}

void h5tx_fuse__unescape(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
        s[3] <= '7') {
      *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

/* Is `mnt` the mount point of an h5tx mount? */
static int is_h5tx_mount(const char *mnt) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) return 0;
  char line[8192];
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    /* id parent major:minor root MOUNTPOINT options... - FSTYPE source ... */
    char *save = NULL, *field = strtok_r(line, " ", &save);
    char *point = NULL;
    for (int i = 0; field && i < 4; i++)
      field = strtok_r(NULL, " ", &save);
    point = field;
    while (field && strcmp(field, "-") != 0)
      field = strtok_r(NULL, " ", &save);
    char *type = field ? strtok_r(NULL, " ", &save) : NULL;
    if (!point || !type) continue;
    h5tx_fuse__unescape(point);
    found = strcmp(point, mnt) == 0 && strcmp(type, "fuse.h5tx") == 0;
  }
  fclose(f);
  return found;
}

static int run(const char *opt, const char *mnt) {
  pid_t pid = fork();
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", opt, mnt, (char *)NULL);
    _exit(127);
  }
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_fusermount(const char *mnt) { return run("-u", mnt); }
static int run_fusermount_lazy(const char *mnt) { return run("-uz", mnt); }

int h5tx_fuse_umount(const char *dir, h5tx_error *err) {
  char *mnt = abs_path(dir);
  if (!mnt) return fail(err, H5TX_ENOENT, "%s: %s", dir, strerror(errno));
  if (!is_h5tx_mount(mnt)) {
    free(mnt);
    return fail(err, H5TX_EINVAL, "%s is not an h5tx mount", dir);
  }
  int sock = connect_socket(mnt); /* none if the daemon was killed */
  int rc = 0;
  if (geteuid() == 0) {
    /* A killed daemon's mount serves nothing: detach it even while files on
     * it are open (they get ENOTCONN, as they did already). */
    if (umount2(mnt, UMOUNT_NOFOLLOW) != 0 &&
        (errno != EBUSY || sock >= 0 || umount2(mnt, UMOUNT_NOFOLLOW | MNT_DETACH) != 0))
      rc = errno == EBUSY ? fail(err, H5TX_EBUSY, "%s is busy: files on it are open", dir)
                          : fail(err, H5TX_EIO, "unmounting %s: %s", dir, strerror(errno));
  } else {
    int st = run_fusermount(mnt);
    if (st != 0 && sock < 0) st = run_fusermount_lazy(mnt);
    if (st != 0)
      rc = fail(err, H5TX_EIO, "fusermount3 -u %s failed%s", dir,
                st == 127 ? " (is fuse3 installed?)" : " (it said why above)");
  }
  if (!rc && sock >= 0) { /* until the daemon has closed the store */
    struct pollfd pf = {sock, POLLIN, 0};
    int r;
    while ((r = poll(&pf, 1, UMOUNT_WAIT_MS)) < 0 && errno == EINTR) {
    }
    if (r == 0) rc = fail(err, H5TX_EIO, "%s is unmounted, but its daemon is still running", dir);
  }
  if (sock >= 0) close(sock);
  free(mnt);
  return rc;
}
