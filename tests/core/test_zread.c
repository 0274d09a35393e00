/* test_zread.c - reads of many compressed pages in one call (decoded in
 * parallel, docs/DECISIONS.md "Reads of compressed pages"): a file of
 * compressible, noisy and zero pages in random order reads back byte for
 * byte whole, in random ranges and through a writer, with zstd and with
 * lz4 (argv[1]); a byte flipped in one
 * compressed payload among them fails the whole read with H5TX_ECORRUPT
 * naming that page, and every other page still reads right. */
#include "check_fs.h"

static h5tx_error e;

#define PS 4096
#define NP 150 /* more than one run of pages (H5TX__RUN_MAX) */
#define FILE_NAME "z/data.h5"

enum { ZEROS, NOISY, SMOOTH };
static uint8_t model[NP * PS];
static int kind[NP];

/* A compressible page: a unique tag zstd keeps as literals (so the test
 * can find it in the log), then one 8-byte word repeated. */
static void smooth(uint8_t *b, int p) {
  char tag[17];
  snprintf(tag, sizeof tag, "ZPAGE%05d-TAG--", p);
  memcpy(b, tag, 16);
  uint8_t word[8];
  for (int i = 0; i < 8; i++)
    word[i] = (uint8_t)(p * 8 + i + 1);
  for (int i = 16; i < PS; i++)
    b[i] = word[i % 8];
}

static void read_range(h5tx_snap *sn, uint64_t off, size_t len) {
  static uint8_t got[NP * PS];
  OK(h5tx_snap_read(sn, FILE_NAME, off, got, len, &e));
  if (memcmp(got, model + off, len) != 0) {
    fprintf(stderr, "read of %zu bytes at %llu differs from what was written\n", len,
            (unsigned long long)off);
    CHECK(0);
  }
}

/* argv[1]: the codec, zstd (the default) or lz4. */
int main(int argc, char **argv) {
  int lz4 = argc > 1 && strcmp(argv[1], "lz4") == 0;
  uint64_t seed = test_seed(lz4 ? "core_zread lz4" : "core_zread zstd");
  test_paths tp = temp_paths();
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.page_size = PS;
  o.codec = lz4 ? H5TX_CODEC_LZ4 : H5TX_CODEC_ZSTD;
  h5tx_store *s;
  OK(h5tx_store_open(tp.store, &o, &s, &e));

  /* Pages in random order of kind, most of them compressible; page 40 is
   * compressible, with at least 8 compressible pages before it in its run. */
  int nsmooth = 0;
  for (int p = 0; p < NP; p++) {
    uint64_t r = rng_below(&seed, 10);
    kind[p] = p < 10 || p == 40 || r >= 3 ? SMOOTH : r == 0 ? ZEROS : NOISY;
    uint8_t *b = model + (size_t)p * PS;
    if (kind[p] == SMOOTH) smooth(b, p), nsmooth++;
    if (kind[p] == NOISY)
      for (int i = 0; i < PS; i += 8) {
        uint64_t v = rng_next(&seed);
        memcpy(b + i, &v, 8);
      }
  }
  h5tx_writer *w;
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.create = 1;
  OK(h5tx_writer_open(s, FILE_NAME, &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, model, sizeof model, &e));
  h5tx_rev r1;
  OK(h5tx_writer_commit(w, NULL, &r1, &e));
  h5tx_writer_close(w);

  /* The compressible pages are stored compressed (else this tests nothing). */
  h5tx_stats st;
  OK(h5tx_store_stats(s, &st, &e));
  CHECK(st.zstd_raw_bytes == (lz4 ? 0 : (uint64_t)nsmooth * PS));
  int nnoisy = 0;
  for (int p = 0; p < NP; p++)
    nnoisy += kind[p] == NOISY;
  CHECK(st.stored_bytes < (uint64_t)nnoisy * PS + (uint64_t)nsmooth * PS / 4);

  /* Whole, in random ranges, and through a writer. */
  h5tx_snap *sn;
  OK(h5tx_snap_open(s, r1, &sn, &e));
  read_range(sn, 0, sizeof model);
  for (int i = 0; i < 200; i++) {
    uint64_t off = rng_below(&seed, sizeof model);
    size_t len = (size_t)rng_below(&seed, sizeof model - off) + 1;
    read_range(sn, off, len);
  }
  h5tx_snap_close(sn);
  static uint8_t got[NP * PS];
  OK(h5tx_writer_open(s, FILE_NAME, NULL, &w, &e));
  OK(h5tx_writer_read(w, 0, got, sizeof got, &e));
  CHECK(memcmp(got, model, sizeof got) == 0);
  h5tx_writer_close(w);

  /* Pages of 1 MiB, half noise: more compressed bytes than a run's payload
   * area holds (2 MiB), so one read decodes them in several parts. */
  enum { BPS = 1 << 20, BNP = 12 };
  uint8_t *big = malloc((size_t)BNP * BPS), *bgot = malloc((size_t)BNP * BPS);
  REQUIRE(big && bgot);
  memset(big, 0, (size_t)BNP * BPS);
  for (size_t i = 0; i < (size_t)BNP * BPS; i += BPS)
    for (size_t k = 0; k < BPS / 2; k += 8) {
      uint64_t v = rng_next(&seed);
      memcpy(big + i + k, &v, 8);
    }
  wo.page_size = BPS;
  OK(h5tx_writer_open(s, "z/big.h5", &wo, &w, &e));
  OK(h5tx_writer_write(w, 0, big, (size_t)BNP * BPS, &e));
  h5tx_rev r2;
  OK(h5tx_writer_commit(w, NULL, &r2, &e));
  h5tx_writer_close(w);
  h5tx_stats st2;
  OK(h5tx_store_stats(s, &st2, &e));
  CHECK(st2.stored_bytes - st.stored_bytes < (uint64_t)BNP * BPS * 7 / 8); /* compressed */
  CHECK(st2.stored_bytes - st.stored_bytes > (uint64_t)BNP * BPS / 3);     /* > 2 MiB */
  OK(h5tx_snap_open(s, r2, &sn, &e));
  OK(h5tx_snap_read(sn, "z/big.h5", 0, bgot, (size_t)BNP * BPS, &e));
  CHECK(memcmp(bgot, big, (size_t)BNP * BPS) == 0);
  h5tx_snap_close(sn);
  free(big);
  free(bgot);
  h5tx_store_close(s);

  /* A byte flipped in the payload of page 40. */
  REQUIRE(flip_in_log(tp.store, "ZPAGE00040-TAG--", 7, 0x04));
  OK(h5tx_store_open(tp.store, NULL, &s, &e));
  char want[900];
  snprintf(want, sizeof want, "store %s: file '" FILE_NAME "' page 40 revision %llu: ", tp.store,
           (unsigned long long)r1);
  OK(h5tx_snap_open(s, r1, &sn, &e));
  FAILS(h5tx_snap_read(sn, FILE_NAME, 0, got, sizeof got, &e), H5TX_ECORRUPT, want);
  CHECK(strstr(e.msg, "checksum mismatch") != NULL);
  FAILS(h5tx_snap_read(sn, FILE_NAME, 39 * PS + 100, got, 2 * PS, &e), H5TX_ECORRUPT, want);
  /* The pages around it read right, in reads of many pages. */
  read_range(sn, 0, 40 * PS);
  read_range(sn, 41 * PS, (NP - 41) * PS);
  h5tx_snap_close(sn);
  /* (a writer names the revision it reads, its base: head) */
  OK(h5tx_writer_open(s, FILE_NAME, NULL, &w, &e));
  FAILS(h5tx_writer_read(w, 0, got, sizeof got, &e), H5TX_ECORRUPT,
        "file '" FILE_NAME "' page 40 ");
  CHECK(strstr(e.msg, "checksum mismatch") != NULL);
  h5tx_writer_close(w);
  h5tx_store_close(s);

  remove_tree(tp.dir);
  return check_done(lz4 ? "core_zread lz4" : "core_zread zstd");
}
