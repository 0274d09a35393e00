/* test_config.c - the config string parser: every key, sizes with suffixes,
 * whitespace and empty items, a commit message, and a message naming the key for each kind of
 * bad input; a failed parse leaves the config unchanged. */
#include "check.h"

static h5tx_error e;

int main(void) {
  h5tx_config c;
  h5tx_config_init(&c);
  CHECK(c.plain == 1 && c.commit == H5TX_COMMIT_FLUSH && c.codec == -1 && c.durability == -1);
  OK(h5tx_config_parse(" store = /data/lab.h5tx ; rev=42;page_size=64K; codec=zstd:9;"
                       "commit=close; durability=nosync; cache=128M; plain=no;;"
                       " message = calibration run 3 (gain=2) ",
                       &c, &e));
  CHECK(strcmp(c.store, "/data/lab.h5tx") == 0);
  CHECK(strcmp(c.rev, "42") == 0);
  CHECK(c.page_size == 65536);
  CHECK(c.codec == H5TX_CODEC_ZSTD && c.level == 9);
  CHECK(c.commit == H5TX_COMMIT_CLOSE);
  CHECK(c.durability == H5TX_NOSYNC);
  CHECK(c.cache == 128u << 20);
  CHECK(c.plain == 0);
  CHECK(strcmp(c.message, "calibration run 3 (gain=2)") == 0);
  /* Round trip through the formatter. */
  char text[H5TX_CONFIG_MAX + 512];
  CHECK(h5tx_config_format(&c, text, sizeof text) > 0);
  h5tx_config d;
  h5tx_config_init(&d);
  OK(h5tx_config_parse(text, &d, &e));
  CHECK(memcmp(&c, &d, sizeof c) == 0);
  h5tx_config_init(&d);
  OK(h5tx_config_parse("codec=none;rev=v1;durability=sync;commit=flush;plain=yes", &d, &e));
  CHECK(d.codec == H5TX_CODEC_NONE && strcmp(d.rev, "v1") == 0 && d.durability == H5TX_SYNC);
  /* lz4, through the formatter too */
  h5tx_config_init(&d);
  OK(h5tx_config_parse("codec=lz4", &d, &e));
  CHECK(d.codec == H5TX_CODEC_LZ4);
  CHECK(h5tx_config_format(&d, text, sizeof text) > 0 && strstr(text, "codec=lz4") != NULL);
  OK(h5tx_config_parse(NULL, &d, &e));
  OK(h5tx_config_parse("", &d, &e));
  OK(h5tx_config_parse(" ; ", &d, &e));

  h5tx_config before = c;
  FAILS(h5tx_config_parse("colour=blue", &c, &e), H5TX_EINVAL, "unknown config key 'colour'");
  FAILS(h5tx_config_parse("page_size=3000", &c, &e), H5TX_EINVAL,
        "config key 'page_size': bad value '3000'");
  FAILS(h5tx_config_parse("page_size=64Q", &c, &e), H5TX_EINVAL, "'page_size'");
  FAILS(h5tx_config_parse("page_size=32M", &c, &e), H5TX_EINVAL, "'page_size'");
  FAILS(h5tx_config_parse("codec=brotli", &c, &e), H5TX_EINVAL,
        "config key 'codec': bad value 'brotli'");
  FAILS(h5tx_config_parse("codec=lz4:3", &c, &e), H5TX_EINVAL, "config key 'codec'");
  FAILS(h5tx_config_parse("codec=zstd:99", &c, &e), H5TX_EINVAL, "'codec': bad value 'zstd:99'");
  FAILS(h5tx_config_parse("codec=zstd:", &c, &e), H5TX_EINVAL, "'codec'");
  FAILS(h5tx_config_parse("commit=sometimes", &c, &e), H5TX_EINVAL,
        "'commit': bad value 'sometimes'");
  FAILS(h5tx_config_parse("durability=maybe", &c, &e), H5TX_EINVAL, "'durability'");
  FAILS(h5tx_config_parse("cache=lots", &c, &e), H5TX_EINVAL, "'cache'");
  FAILS(h5tx_config_parse("plain=1", &c, &e), H5TX_EINVAL, "'plain'");
  FAILS(h5tx_config_parse("store=lab", &c, &e), H5TX_EINVAL, "ends in .h5tx");
  FAILS(h5tx_config_parse("rev=", &c, &e), H5TX_EINVAL, "'rev'");
  FAILS(h5tx_config_parse("codec=none;codec=zstd", &c, &e), H5TX_EINVAL, "'codec' given twice");
  FAILS(h5tx_config_parse("message=", &c, &e), H5TX_EINVAL, "'message': bad value ''");
  char longmsg[sizeof c.message + 16];
  memset(longmsg, 'm', sizeof longmsg - 1);
  longmsg[sizeof longmsg - 1] = 0;
  memcpy(longmsg, "message=", 8);
  FAILS(h5tx_config_parse(longmsg, &c, &e), H5TX_EINVAL, "'message'");
  FAILS(h5tx_config_parse("store", &c, &e), H5TX_EINVAL, "'store' is not key=value");
  /* A bad item after good ones changes nothing. */
  FAILS(h5tx_config_parse("codec=none; page_size=1", &c, &e), H5TX_EINVAL, "'page_size'");
  CHECK(memcmp(&before, &c, sizeof c) == 0);
  return check_done("core_config");
}
