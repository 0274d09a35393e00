/* marker.c - the store's marker file: read, parse, write (marker.h). */
#include "marker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER_HEAD "h5tx store\n"

/* The index engines this build has. */
static const char *const engines[] = {"lmdb"};

/* The line of `buf` (up to `end`) starting at `p`: its length without the
 * newline; *next gets the start of the following line (end if none). */
static size_t line_at(const char *p, const char *end, const char **next) {
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  *next = nl ? nl + 1 : end;
  return (size_t)((nl ? nl : end) - p);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int h5tx__marker_parse(const char *path, const char *buf, size_t n, unsigned newest,
                       h5tx__marker *m, h5tx_error *err) {
  memset(m, 0, sizeof *m);
  const char *end = buf + n, *v = buf + strlen(MARKER_HEAD);
  size_t digits = 0;
  if (n < strlen(MARKER_HEAD) + 7 || memcmp(buf, MARKER_HEAD, strlen(MARKER_HEAD)) != 0 ||
      memcmp(v, "format ", 7) != 0)
    return h5tx__err(err, H5TX_EFORMAT, "%s is not an h5tx store (foreign %s marker)", path,
                     H5TX__MARKER);
  v += 7;
  while (v + digits < end && v[digits] >= '0' && v[digits] <= '9')
    digits++;
  if (digits == 0)
    return h5tx__err(err, H5TX_EFORMAT, "%s is not an h5tx store (foreign %s marker)", path,
                     H5TX__MARKER);
  /* Compared as digits, so no number is too large to name as written. */
  while (digits > 1 && *v == '0') {
    v++;
    digits--;
  }
  if (digits == 1 && *v == '0')
    return h5tx__err(err, H5TX_EFORMAT, "store %s: bad format version 0", path);
  unsigned long f = 0;
  for (size_t i = 0; digits <= 9 && i < digits; i++)
    f = f * 10 + (unsigned long)(v[i] - '0');
  if (digits > 9 || f > newest)
    return h5tx__err(err, H5TX_EFORMAT,
                     "store %s has format %.*s; this h5tx reads format %u and older: upgrade h5tx",
                     path, (int)(digits > 40 ? 40 : digits), v, newest);
  m->format = (unsigned)f;
  if (m->format < 2) return 0;
  const char *p;
  line_at(v, end, &p);
  const char *id = NULL, *ix = NULL;
  size_t idn = 0, ixn = 0;
  for (int i = 0; i < 2 && p < end; i++) {
    const char *next;
    size_t len = line_at(p, end, &next);
    if (i == 0 && len >= 3 && memcmp(p, "id ", 3) == 0) id = p + 3, idn = len - 3;
    if (i == 1 && len >= 6 && memcmp(p, "index ", 6) == 0) ix = p + 6, ixn = len - 6;
    p = next;
  }
  if (!id)
    return h5tx__err(err, H5TX_EFORMAT, "store %s: its %s marker has no id line (third line)", path,
                     H5TX__MARKER);
  int ok = idn == 32;
  for (size_t i = 0; ok && i < 16; i++) {
    int hi = hexval(id[2 * i]), lo = hexval(id[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    if (ok) m->id[i] = (uint8_t)(hi << 4 | lo);
  }
  if (!ok)
    return h5tx__err(err, H5TX_EFORMAT,
                     "store %s: its %s marker's id \"%.*s\" is not 32 lowercase hex digits", path,
                     H5TX__MARKER, (int)(idn > 64 ? 64 : idn), id);
  if (!ix)
    return h5tx__err(err, H5TX_EFORMAT, "store %s: its %s marker has no index line (fourth line)",
                     path, H5TX__MARKER);
  for (size_t i = 0; i < sizeof engines / sizeof *engines; i++)
    if (ixn == strlen(engines[i]) && memcmp(ix, engines[i], ixn) == 0) {
      memcpy(m->index, ix, ixn);
      return 0;
    }
  return h5tx__err(err, H5TX_EFORMAT,
                   "store %s: its index engine \"%.*s\" is not one this h5tx has (lmdb)", path,
                   (int)(ixn > 64 ? 64 : ixn), ix);
}

int h5tx__marker_read(const char *path, unsigned newest, h5tx__marker *m, h5tx_error *err) {
  char mp[4096], buf[512];
  snprintf(mp, sizeof mp, "%s/" H5TX__MARKER, path);
  /* Non-blocking, so a FIFO (or any other special file) in its place is an
   * error, not a hang. */
  int fd = open(mp, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      return h5tx__err(err, H5TX_EFORMAT, "%s is not an h5tx store (no %s marker)", path,
                       H5TX__MARKER);
    return h5tx__err(err, h5tx__errno_code(e), "store %s: cannot read its marker %s: %s", path, mp,
                     strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    close(fd);
    if (!S_ISREG(st.st_mode))
      return h5tx__err(err, H5TX_EFORMAT, "store %s: its marker %s is not a regular file (%s)",
                       path, mp, h5tx__file_kind(st.st_mode));
    return h5tx__err(err, H5TX_EIO, "store %s: %s: %s", path, mp, strerror(e));
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int e = errno;
  close(fd);
  if (n < 0)
    return h5tx__err(err, h5tx__errno_code(e), "store %s: cannot read its marker %s: %s", path, mp,
                     strerror(e));
  buf[n] = 0;
  return h5tx__marker_parse(path, buf, (size_t)n, newest, m, err);
}

int h5tx__marker_write(const char *dir, const char *store, const h5tx__marker *m, h5tx_error *err) {
  char mp[4200], text[128];
  int len;
  if (m->format < 2) {
    len = snprintf(text, sizeof text, MARKER_HEAD "format %u\n", m->format);
  } else {
    char hex[33];
    for (int i = 0; i < 16; i++)
      snprintf(hex + 2 * i, 3, "%02x", m->id[i]);
    len = snprintf(text, sizeof text, MARKER_HEAD "format %u\nid %s\nindex %s\n", m->format, hex,
                   m->index);
  }
  snprintf(mp, sizeof mp, "%s/" H5TX__MARKER, dir);
  FILE *f = fopen(mp, "we");
  if (!f || fwrite(text, 1, (size_t)len, f) != (size_t)len || fflush(f) != 0 ||
      fsync(fileno(f)) != 0) {
    int e = errno;
    if (f) fclose(f);
    return h5tx__err(err, h5tx__errno_code(e), "cannot create store %s: writing marker: %s", store,
                     strerror(e));
  }
  if (fclose(f) != 0)
    return h5tx__err(err, h5tx__errno_code(errno), "cannot create store %s: writing marker: %s",
                     store, strerror(errno));
  return 0;
}

int h5tx__marker_need2(const char *path, const h5tx__marker *m, h5tx_error *err) {
  if (m->format == 2) return 0;
  return h5tx__err(err, H5TX_EFORMAT,
                   "store %s has format %u; run `h5tx upgrade %s` to convert it (every revision, "
                   "tag and message is kept)",
                   path, m->format, path);
}

int h5tx__store_id_new(uint8_t id[16], h5tx_error *err) {
  size_t got = 0;
  while (got < 16) {
    ssize_t r = getrandom(id + got, 16 - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return h5tx__err(err, h5tx__errno_code(errno), "cannot make a store id: getrandom: %s",
                       strerror(errno));
    got += (size_t)r;
  }
  return 0;
}
