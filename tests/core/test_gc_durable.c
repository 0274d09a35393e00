/* test_gc_durable.c - gc never collects a revision recovery could fall
 * back to: after a power cut, recovery rolls back commits above `durable`
 * whose records did not reach the disk, and the head it leaves must be
 * readable (core_powerloss found a store whose recovered head gc had
 * collected: no writer could pin it). gc first flushes the whole page log
 * and raises `durable` to the head it flushed for, and keeps every revision
 * from `durable` on. White-box: reads meta and the commit records. */
#include "check.h"

#include "apply2.h"
#include "internal.h"
#include "records.h"
#include "records2.h"

static h5tx_error e;

/* durable, head, and whether revision r is collected, from the index. */
static void marks(const char *store, h5tx_rev *durable, h5tx_rev *head, int *collected, int n) {
  char dir[700];
  snprintf(dir, sizeof dir, "%s/index", store);
  h5tx__kv *kv;
  OK(h5tx__idx_open(dir, 0, 1, &kv, &e));
  h5tx__txn *t;
  OK(h5tx__kv_read(kv, &t, &e));
  OK(h5tx__meta2_get(t, "durable", durable, &e));
  OK(h5tx__meta2_get(t, "head", head, &e));
  for (int r = 1; r <= n; r++) {
    uint8_t k[8];
    h5tx__val v;
    h5tx__commit2 c;
    h5tx__be64(k, (uint64_t)r);
    OK(h5tx__idx_get(t, IDX_COMMITS, k, 8, &v, &e));
    REQUIRE(h5tx__commit2_parse(v.p, v.n, &c) == 0);
    collected[r] = (c.flags & H5TX_COMMIT_COLLECTED) != 0;
  }
  h5tx__kv_done(t);
  h5tx__kv_close(kv);
}

int main(void) {
  test_paths tp = temp_paths();
  /* nosync commits and gc through one handle: no open in between (the
   * first open's recovery raises durable to head by itself) */
  h5tx_store *s = open_store(tp.store, 4096, 0); /* nosync */
  for (int i = 0; i < 5; i++) {
    char text[32];
    snprintf(text, sizeof text, "version %d", i);
    put_text(s, "f.txt", text, H5TX_HEAD);
  }
  h5tx_gc_opts go = {.keep_last = 1};
  h5tx_gc_result gr;
  OK(h5tx_gc(s, &go, &gr, &e));
  h5tx_store_close(s);
  h5tx_rev durable, head;
  int collected[6];
  marks(tp.store, &durable, &head, collected, 5);
  printf("after gc: head %llu, durable %llu, %llu collected\n", (unsigned long long)head,
         (unsigned long long)durable, (unsigned long long)gr.revisions_collected);
  /* what gc collected lies below durable (before: durable stayed at 0 and
   * revisions a power cut could have made head again were collected) */
  for (h5tx_rev r = durable ? durable : 1; r <= head; r++)
    CHECK(!collected[r]);
  CHECK(head == 5 && durable == head && gr.revisions_collected == 4);
  remove_tree(tp.dir);
  return check_done("core_gc_durable");
}
