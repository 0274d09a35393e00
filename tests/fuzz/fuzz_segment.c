/* fuzz_segment.c - the page log's segment scan (h5tx__plog_scan), as
 * repair and recovery run it over segment files found on disk. Input: byte
 * 0 says whether to repair (bit 0) the batch headers' place fields, their
 * hashes and every entry's record check, so mutations reach the accepting
 * paths instead of stopping at a checksum; the rest follows a valid segment
 * header (segment 1 of a fixed store id). Promises checked: no crash or
 * sanitizer report; every record handed to the callback lies inside the
 * file and its payload matches its check; the scan's end is a multiple of
 * 4096 inside the file; a scan that stops early says why. */
#include "fuzz.h"

#include "codec.h"
#include "internal.h"
#include "pagelog.h"

#include <fcntl.h>
#include <unistd.h>

static char dir[256];
static const uint8_t sid[16] = "fuzz-store-id-16";
static size_t file_size;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof dir, "/tmp/h5tx-fuzz-seg-XXXXXX");
  if (!mkdtemp(dir)) abort();
  return 0;
}

static int on_record(void *arg, const h5tx__place *p, const void *payload, h5tx_error *err) {
  (void)arg;
  (void)err;
  FUZZ_ASSERT(p->off + p->stored <= file_size);
  FUZZ_ASSERT(h5tx__plog_check(sid, p, h5tx__hash(payload, p->stored)) == p->check);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t n = 4096 + size - 1;
  uint8_t *b = calloc(1, n);
  if (!b) abort();
  memcpy(b, "H5TXSEG2", 8);
  h5tx__le32(b + 8, 2);
  h5tx__le32(b + 12, 4096);
  h5tx__le64(b + 16, 1);
  memcpy(b + 24, sid, 16);
  h5tx__le64(b + 4088, h5tx__hash(b, 4088));
  memcpy(b + 4096, data + 1, size - 1);
  if (data[0] & 1) {
    uint64_t at = 4096;
    while (at + 4096 <= n) {
      uint8_t *h = b + at;
      h5tx__le64(h + 24, 1);
      h5tx__le64(h + 32, at);
      uint64_t len = h5tx__get_le64(h + 16);
      uint32_t k = h5tx__get_le32(h + 8);
      for (uint32_t i = 0; i < k && i < 83; i++) {
        uint8_t *en = h + 64 + 48 * i;
        h5tx__place p = {.seg = 1,
                         .off = h5tx__get_le64(en + 8),
                         .stored = h5tx__get_le32(en + 4),
                         .raw = h5tx__get_le32(en + 24),
                         .wid = h5tx__get_le64(h + 40),
                         .key = h5tx__get_le64(en + 16),
                         .content = h5tx__get_le64(en + 32),
                         .kind = en[0],
                         .enc = en[1]};
        if (p.off <= n && p.stored <= n - p.off)
          h5tx__le64(en + 40, h5tx__plog_check(sid, &p, h5tx__hash(b + p.off, p.stored)));
      }
      h5tx__le64(h + 4088, h5tx__hash(h, 4088));
      if (len < 4096 || len % 4096 || len > n) break;
      at += len;
    }
  }
  char path[300];
  snprintf(path, sizeof path, "%s/0000000000000001.seg", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, b, n) != (ssize_t)n) abort();
  close(fd);
  file_size = n;
  h5tx__plog *l;
  h5tx_error err;
  if (h5tx__plog_open(dir, sid, 0, 1, 0, &l, &err) != 0) abort();
  uint64_t end = 0;
  int sealed = 0;
  const char *why = NULL;
  int rc = h5tx__plog_scan(l, 1, on_record, NULL, &end, &sealed, &why, &err);
  FUZZ_ASSERT(rc == 0); /* the header is valid: only the tail can stop it */
  FUZZ_ASSERT(end % 4096 == 0 && end >= 4096 && end <= n);
  FUZZ_ASSERT(sealed || end == n || why != NULL);
  h5tx__plog_close(l);
  free(b);
  return 0;
}
