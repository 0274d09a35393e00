/* import_file.c - h5tx_test_import SRC STORE.h5tx/NAME: copy the plain file
 * SRC byte for byte into file NAME of store STORE.h5tx (created if needed)
 * as one commit, and print the revision it made.
 *
 * A test helper of the vfd suite (tools_114.sh, realfiles.sh): it puts real HDF5 files
 * into a store without going through HDF5, so what the driver reads back is
 * exactly the original bytes. Uses libh5tx only. */
#include "h5tx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE ((size_t)1 << 20) /* write in 1 MiB pieces */

/* Split "DIR/STORE.h5tx/NAME" at the first path part ending in ".h5tx". */
static int split(const char *arg, char **store, const char **name) {
  for (const char *p = arg; *p;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n > 5 && memcmp(p + n - 5, ".h5tx", 5) == 0) {
      if (!e || !e[1]) return -1; /* a store, but no file in it */
      *store = malloc((size_t)(e - arg) + 1);
      if (!*store) return -1;
      memcpy(*store, arg, (size_t)(e - arg));
      (*store)[e - arg] = 0;
      *name = e + 1;
      return 0;
    }
    if (!e) break;
    p = e + 1;
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SRC STORE.h5tx/NAME\n", argv[0]);
    return 1;
  }
  const char *src = argv[1];
  char *store_path = NULL;
  const char *name = NULL;
  if (split(argv[2], &store_path, &name) != 0) {
    fprintf(stderr, "%s: '%s' is not STORE.h5tx/NAME\n", argv[0], argv[2]);
    return 1;
  }

  int rc = 1;
  FILE *in = NULL;
  unsigned char *buf = NULL;
  h5tx_store *s = NULL;
  h5tx_writer *w = NULL;
  h5tx_error e = {0};

  in = fopen(src, "rb");
  if (!in) {
    fprintf(stderr, "%s: cannot open '%s': %s\n", argv[0], src, strerror(errno));
    goto out;
  }
  buf = malloc(PIECE);
  if (!buf) {
    fprintf(stderr, "%s: out of memory\n", argv[0]);
    goto out;
  }

  h5tx_store_opts so;
  h5tx_store_opts_init(&so);
  so.create = 1;
  if (h5tx_store_open(store_path, &so, &s, &e) != 0) goto fail_e;

  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  wo.truncate = 1;
  if (h5tx_writer_open(s, name, &wo, &w, &e) != 0) goto fail_e;

  uint64_t off = 0;
  for (;;) {
    size_t n = fread(buf, 1, PIECE, in);
    if (n > 0) {
      if (h5tx_writer_write(w, off, buf, n, &e) != 0) goto fail_e;
      off += n;
    }
    if (n < PIECE) {
      if (ferror(in)) {
        fprintf(stderr, "%s: reading '%s' failed: %s\n", argv[0], src, strerror(errno));
        goto out;
      }
      break;
    }
  }

  char msg[1024];
  snprintf(msg, sizeof msg, "import %s", src);
  h5tx_rev rev = 0;
  if (h5tx_writer_commit(w, msg, &rev, &e) != 0) goto fail_e;
  printf("%" PRIu64 "\n", rev);
  rc = 0;
  goto out;

fail_e:
  fprintf(stderr, "%s: %s (%s)\n", argv[0], e.msg, h5tx_strerror(e.code));
out:
  h5tx_writer_close(w);
  h5tx_store_close(s);
  free(buf);
  if (in) fclose(in);
  free(store_path);
  return rc;
}
