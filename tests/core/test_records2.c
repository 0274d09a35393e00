/* test_records2.c - format 2's records (records2.h): a page place and a
 * log commit record with every operation kind read back as written; every
 * truncation, a wrong operation count, an unknown operation or version is
 * refused with a reason, never read as something else. */
#include "check.h"
#include "internal.h"
#include "records2.h"

static void test_place(void) {
  h5tx__place p = {.seg = 7,
                   .off = 4096 * 3,
                   .stored = 1000,
                   .raw = 65536,
                   .wid = 0x1122334455667788ull,
                   .key = 42,
                   .content = 0xabcdefull,
                   .check = 0x99ull,
                   .kind = PLOG_PAGE,
                   .enc = PLOG_ENC_ZSTD};
  uint8_t v[H5TX_PLACE_VAL];
  h5tx__place_encode(v, &p);
  h5tx__place q;
  const char *why = NULL;
  CHECK(h5tx__place_parse(v, sizeof v, &q, &why) == 0);
  CHECK(memcmp(&p, &q, sizeof p) == 0);
  CHECK(h5tx__place_parse(v, sizeof v - 1, &q, &why) == -1 && strstr(why, "length"));
  v[0] = 3;
  CHECK(h5tx__place_parse(v, sizeof v, &q, &why) == -1 && strstr(why, "newer"));
  v[0] = 2;
  v[1] = 9;
  CHECK(h5tx__place_parse(v, sizeof v, &q, &why) == -1 && strstr(why, "encoding"));
  p.enc = PLOG_ENC_RAW; /* raw, but fewer bytes than the page */
  h5tx__place_encode(v, &p);
  CHECK(h5tx__place_parse(v, sizeof v, &q, &why) == -1 && strstr(why, "lengths"));
  p.enc = PLOG_ENC_ZERO; /* zero, with bytes */
  h5tx__place_encode(v, &p);
  CHECK(h5tx__place_parse(v, sizeof v, &q, &why) == -1);
  p.stored = 0;
  h5tx__place_encode(v, &p);
  CHECK(h5tx__place_parse(v, sizeof v, &q, &why) == 0 && q.enc == PLOG_ENC_ZERO);
}

static void test_commit(void) {
  h5tx__lcommit c = {.rev = 12,
                     .parent = 11,
                     .branch = 0,
                     .time_ns = 123456789,
                     .pid = 4242,
                     .host = "hostA",
                     .host_len = 5,
                     .msg = "a message",
                     .msg_len = 9};
  h5tx__lop ops[6] = {{.op = LOP_FILE,
                       .fid = 3,
                       .page_size = 65536,
                       .a = 1,
                       .b = 10,
                       .name = "dir/f.h5",
                       .name_len = 8},
                      {.op = LOP_NAME, .fid = 3, .name = "dir/f.h5", .name_len = 8},
                      {.op = LOP_NAME, .fid = 0, .name = "old", .name_len = 3},
                      {.op = LOP_LENGTH, .fid = 3, .a = 1 << 20},
                      {.op = LOP_PAGES, .fid = 3, .a = 0x5555},
                      {.op = LOP_REF,
                       .fid = 3,
                       .a = 17,
                       .place = {.seg = 2,
                                 .off = 8192,
                                 .stored = 65536,
                                 .raw = 65536,
                                 .wid = 9,
                                 .key = 16,
                                 .content = 77,
                                 .check = 88,
                                 .kind = PLOG_PAGE,
                                 .enc = PLOG_ENC_RAW}}};
  h5tx__buf b = {0};
  REQUIRE(h5tx__lcommit_begin(&b, &c) == 0);
  for (int i = 0; i < 6; i++)
    REQUIRE(h5tx__lcommit_add(&b, &ops[i]) == 0);
  h5tx__lcommit d;
  const char *why = NULL;
  REQUIRE(h5tx__lcommit_parse(b.p, b.n, &d, &why) == 0);
  CHECK(d.rev == 12 && d.parent == 11 && d.time_ns == 123456789 && d.pid == 4242 && d.nops == 6);
  CHECK(d.host_len == 5 && memcmp(d.host, "hostA", 5) == 0);
  CHECK(d.msg_len == 9 && memcmp(d.msg, "a message", 9) == 0);
  h5tx__lcommit_it it = {0};
  h5tx__lop o;
  for (int i = 0; i < 6; i++) {
    REQUIRE(h5tx__lcommit_next(&d, &it, &o, &why) == 1);
    CHECK(o.op == ops[i].op && o.fid == ops[i].fid && o.a == ops[i].a && o.b == ops[i].b &&
          o.page_size == ops[i].page_size && o.name_len == ops[i].name_len);
    CHECK(o.name_len == 0 || memcmp(o.name, ops[i].name, o.name_len) == 0);
    if (o.op == LOP_REF) CHECK(memcmp(&o.place, &ops[i].place, sizeof o.place) == 0);
  }
  CHECK(h5tx__lcommit_next(&d, &it, &o, &why) == 0);
  /* every truncation is refused: the header, or an operation */
  for (size_t n = 0; n < b.n; n++) {
    int rc = h5tx__lcommit_parse(b.p, n, &d, &why);
    if (rc == 0) {
      h5tx__lcommit_it t = {0};
      int r;
      while ((r = h5tx__lcommit_next(&d, &t, &o, &why)) == 1)
        ;
      CHECK(r == -1);
    }
  }
  /* a wrong count, either way */
  for (int delta = -1; delta <= 1; delta += 2) {
    uint8_t *cp = malloc(b.n);
    memcpy(cp, b.p, b.n);
    h5tx__le32(cp + 40, (uint32_t)(6 + delta));
    REQUIRE(h5tx__lcommit_parse(cp, b.n, &d, &why) == 0);
    h5tx__lcommit_it t = {0};
    int r;
    while ((r = h5tx__lcommit_next(&d, &t, &o, &why)) == 1)
      ;
    CHECK(r == -1 && strstr(why, "count"));
    free(cp);
  }
  /* an unknown operation */
  size_t first_op = 48 + 5 + 9;
  b.p[first_op] = 99;
  REQUIRE(h5tx__lcommit_parse(b.p, b.n, &d, &why) == 0);
  it = (h5tx__lcommit_it){0};
  CHECK(h5tx__lcommit_next(&d, &it, &o, &why) == -1 && strstr(why, "unknown operation"));
  /* a parent that does not precede */
  h5tx__le64(b.p + 8, 12);
  CHECK(h5tx__lcommit_parse(b.p, b.n, &d, &why) == -1 && strstr(why, "parent"));
  h5tx__buf_free(&b);
}

int main(void) {
  test_place();
  test_commit();
  return check_done("core_records2");
}
