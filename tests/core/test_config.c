/* test_config.c - the config string parser (config.c): every key core
 * parses, sizes with suffixes, whitespace and empty items, a commit message,
 * a caller's own keys (h5tx_config_parse_with: handed over once each, named
 * in the unknown-key message, their errors passed on), a message naming the
 * key for each kind of bad input, and a failed parse leaving the config
 * unchanged; the codec table's names; the option checks that store and
 * writer options go through (a level the codec does not take). */
#include "check.h"

static h5tx_error e;

/* A caller with keys "colour" and "size". */
typedef struct mine {
  char colour[32];
  int calls;
} mine;

static int my_key(void *arg, const char *key, const char *value, h5tx_error *err) {
  mine *m = arg;
  m->calls++;
  if (strcmp(key, "colour") == 0) {
    if (strcmp(value, "blue") != 0) return h5tx_config_bad(err, key, value, "expected blue");
    snprintf(m->colour, sizeof m->colour, "%s", value);
  }
  return 0;
}

static void test_caller_keys(void) {
  static const char *const keys[] = {"colour", "size", NULL};
  h5tx_config c;
  h5tx_config_init(&c);
  mine m = {"", 0};
  OK(h5tx_config_parse_with(" colour = blue ; codec=none", &c, keys, my_key, &m, &e));
  CHECK(strcmp(m.colour, "blue") == 0 && m.calls == 1 && c.codec == H5TX_CODEC_NONE);
  h5tx_config before = c;
  FAILS(h5tx_config_parse_with("colour=red", &c, keys, my_key, &m, &e), H5TX_EINVAL,
        "config key 'colour': bad value 'red': expected blue");
  FAILS(h5tx_config_parse_with("size=1;size=2", &c, keys, my_key, &m, &e), H5TX_EINVAL,
        "config key 'size' given twice");
  FAILS(h5tx_config_parse_with("shape=round", &c, keys, my_key, &m, &e), H5TX_EINVAL,
        "unknown config key 'shape' (known: rev, page_size, codec, durability, cache, message, "
        "colour, size)");
  /* A bad core value after a caller's key leaves the core config alone. */
  FAILS(h5tx_config_parse_with("colour=blue;durability=x", &c, keys, my_key, &m, &e), H5TX_EINVAL,
        "'durability'");
  CHECK(memcmp(&before, &c, sizeof c) == 0);
  /* Without the caller, its keys are unknown to core: the driver's keys
   * are the driver's. */
  FAILS(h5tx_config_parse("colour=blue", &c, &e), H5TX_EINVAL, "unknown config key 'colour'");
  FAILS(h5tx_config_parse("commit=close", &c, &e), H5TX_EINVAL, "unknown config key 'commit'");
  FAILS(h5tx_config_parse("store=lab.h5tx", &c, &e), H5TX_EINVAL, "unknown config key 'store'");
  FAILS(h5tx_config_parse("plain=no", &c, &e), H5TX_EINVAL, "unknown config key 'plain'");
}

/* Store and writer options go through the same checks as config strings. */
static void test_option_checks(void) {
  char dir[] = "/tmp/h5tx-config-XXXXXX", path[600];
  REQUIRE(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/s.h5tx", dir);
  h5tx_store_opts o;
  h5tx_store_opts_init(&o);
  o.create = 1;
  o.codec = H5TX_CODEC_ZSTD;
  o.level = 99;
  h5tx_store *s = NULL;
  FAILS(h5tx_store_open(path, &o, &s, &e), H5TX_EINVAL, "codec zstd does not take level 99");
  o.level = 0;
  o.codec = 7;
  FAILS(h5tx_store_open(path, &o, &s, &e), H5TX_EINVAL, "unknown codec 7");
  o.codec = -1;
  o.page_size = 3000;
  FAILS(h5tx_store_open(path, &o, &s, &e), H5TX_EINVAL, "page size 3000");
  o.page_size = 0;
  o.durability = 5;
  FAILS(h5tx_store_open(path, &o, &s, &e), H5TX_EINVAL, "unknown durability 5");
  o.durability = -1;
  o.codec = H5TX_CODEC_ZSTD;
  o.level = 9;
  OK(h5tx_store_open(path, &o, &s, &e));
  h5tx_writer_opts wo;
  h5tx_writer_opts_init(&wo);
  wo.codec = H5TX_CODEC_ZSTD;
  wo.level = 23;
  h5tx_writer *w = NULL;
  FAILS(h5tx_writer_open(s, "a.h5", &wo, &w, &e), H5TX_EINVAL, "codec zstd does not take level 23");
  h5tx_store_close(s);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

int main(void) {
  h5tx_config c;
  h5tx_config_init(&c);
  CHECK(c.codec == -1 && c.durability == -1 && c.level == 0 && !c.rev[0]);
  OK(h5tx_config_parse(" rev=42;page_size=64K; codec=zstd:9;"
                       " durability=nosync; cache=128M;;"
                       " message = calibration run 3 (gain=2) ",
                       &c, &e));
  CHECK(strcmp(c.rev, "42") == 0);
  CHECK(c.page_size == 65536);
  CHECK(c.codec == H5TX_CODEC_ZSTD && c.level == 9);
  CHECK(c.durability == H5TX_NOSYNC);
  CHECK(c.cache == 128u << 20);
  CHECK(strcmp(c.message, "calibration run 3 (gain=2)") == 0);
  /* Round trip through the formatter. */
  char text[H5TX_CONFIG_MAX + 512];
  CHECK(h5tx_config_format(&c, text, sizeof text) > 0);
  h5tx_config d;
  h5tx_config_init(&d);
  OK(h5tx_config_parse(text, &d, &e));
  CHECK(memcmp(&c, &d, sizeof c) == 0);
  h5tx_config_init(&d);
  OK(h5tx_config_parse("codec=none;rev=v1;durability=sync", &d, &e));
  CHECK(d.codec == H5TX_CODEC_NONE && strcmp(d.rev, "v1") == 0 && d.durability == H5TX_SYNC);
  /* A codec without a level drops an earlier level. */
  OK(h5tx_config_parse("codec=zstd:5", &d, &e));
  OK(h5tx_config_parse("codec=zstd", &d, &e));
  CHECK(d.codec == H5TX_CODEC_ZSTD && d.level == 0);
  /* lz4, through the formatter too */
  h5tx_config_init(&d);
  OK(h5tx_config_parse("codec=lz4", &d, &e));
  CHECK(d.codec == H5TX_CODEC_LZ4);
  CHECK(h5tx_config_format(&d, text, sizeof text) > 0 && strstr(text, "codec=lz4") != NULL);
  OK(h5tx_config_parse(NULL, &d, &e));
  OK(h5tx_config_parse("", &d, &e));
  OK(h5tx_config_parse(" ; ", &d, &e));
  CHECK(strcmp(h5tx_codec_name(H5TX_CODEC_NONE), "none") == 0);
  CHECK(strcmp(h5tx_codec_name(H5TX_CODEC_ZSTD), "zstd") == 0);
  CHECK(h5tx_codec_name(-1) == NULL && h5tx_codec_name(99) == NULL);

  h5tx_config before = c;
  FAILS(h5tx_config_parse("colour=blue", &c, &e), H5TX_EINVAL,
        "unknown config key 'colour' (known: rev, page_size, codec, durability, cache, message)");
  FAILS(h5tx_config_parse("page_size=3000", &c, &e), H5TX_EINVAL,
        "config key 'page_size': bad value '3000'");
  FAILS(h5tx_config_parse("page_size=64Q", &c, &e), H5TX_EINVAL, "'page_size'");
  FAILS(h5tx_config_parse("page_size=32M", &c, &e), H5TX_EINVAL, "'page_size'");
  FAILS(h5tx_config_parse("codec=brotli", &c, &e), H5TX_EINVAL,
        "config key 'codec': bad value 'brotli': expected none, zstd, zstd:LEVEL or lz4");
  FAILS(h5tx_config_parse("codec=lz4:3", &c, &e), H5TX_EINVAL,
        "'codec': bad value 'lz4:3': codec lz4 takes no level");
  FAILS(
      h5tx_config_parse("codec=zstd:99", &c, &e), H5TX_EINVAL,
      "'codec': bad value 'zstd:99': expected zstd:LEVEL with a non-zero zstd level (at most 22)");
  FAILS(h5tx_config_parse("codec=zstd:", &c, &e), H5TX_EINVAL, "'codec'");
  FAILS(h5tx_config_parse("codec=zstd:0", &c, &e), H5TX_EINVAL, "'codec'");
  FAILS(h5tx_config_parse("codec=zstd:3x", &c, &e), H5TX_EINVAL, "'codec'");
  FAILS(h5tx_config_parse("codec=zstdx", &c, &e), H5TX_EINVAL, "'codec'");
  FAILS(h5tx_config_parse("codec=none:3", &c, &e), H5TX_EINVAL,
        "'codec': bad value 'none:3': codec none takes no level");
  FAILS(h5tx_config_parse("durability=maybe", &c, &e), H5TX_EINVAL, "'durability'");
  FAILS(h5tx_config_parse("cache=lots", &c, &e), H5TX_EINVAL, "'cache'");
  FAILS(h5tx_config_parse("rev=", &c, &e), H5TX_EINVAL, "'rev'");
  FAILS(h5tx_config_parse("rev=a/b", &c, &e), H5TX_EINVAL, "'rev'");
  FAILS(h5tx_config_parse("codec=none;codec=zstd", &c, &e), H5TX_EINVAL, "'codec' given twice");
  FAILS(h5tx_config_parse("message=", &c, &e), H5TX_EINVAL, "'message': bad value ''");
  char longmsg[sizeof c.message + 16];
  memset(longmsg, 'm', sizeof longmsg - 1);
  longmsg[sizeof longmsg - 1] = 0;
  memcpy(longmsg, "message=", 8);
  FAILS(h5tx_config_parse(longmsg, &c, &e), H5TX_EINVAL, "'message'");
  FAILS(h5tx_config_parse("rev", &c, &e), H5TX_EINVAL, "'rev' is not key=value");
  /* A bad item after good ones changes nothing. */
  FAILS(h5tx_config_parse("codec=none; page_size=1", &c, &e), H5TX_EINVAL, "'page_size'");
  CHECK(memcmp(&before, &c, sizeof c) == 0);
  test_caller_keys();
  test_option_checks();
  return check_done("core_config");
}
