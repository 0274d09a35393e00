/* pages2.h - page versions in format 2 (docs/FORMAT.md, "pages — page
 * place"): turning a page into a page-log record (zero, zstd when it pays,
 * else raw with no copy), keeping its place in the index, finding the
 * newest version at or below a revision, and loading it into the caller's
 * buffer (a raw page with one read straight into it). */
#ifndef H5TX_PAGES2_H
#define H5TX_PAGES2_H

#include "codec.h"
#include "index.h"
#include "pagelog.h"

/* Fill `r` for page `page_no` holding `page` (ps bytes). Zero pages get
 * encoding zero and no payload; with codec zstd and the policy's leave
 * (zp may be NULL: always try), a frame is made in `scratch`
 * (h5tx__zstd_bound(ps) bytes) and used when it saves an eighth; else the
 * record points at `page` itself. */
void h5tx__page2_record(h5tx__plog_rec *r, uint64_t page_no, const uint8_t *page, uint32_t ps,
                        int codec, int level, h5tx__zpolicy *zp, uint8_t *scratch);

/* Store place `p` as the version of page `page` of file `fid` at `rev`. */
int h5tx__page2_put(h5tx__txn *t, uint64_t fid, uint64_t page, h5tx_rev rev, const h5tx__place *p,
                    h5tx_error *err);

/* The newest version at or below `rev`: its place and revision (*at may be
 * NULL). H5TX_ENOENT if none (err untouched); H5TX_ECORRUPT if its index
 * value fails its check or is no place. */
int h5tx__page2_find(h5tx__cur *c, uint64_t fid, uint64_t page, h5tx_rev rev, h5tx__place *p,
                     h5tx_rev *at, h5tx_error *err);

/* Load the page at `p` into `dst` (ps bytes), verified; `scratch` holds a
 * compressed payload (ps + ps / 8 + 512 bytes). Errors: the page log's
 * (H5TX_ECORRUPT, H5TX_ENOENT when the segment is gone), H5TX_ECORRUPT
 * when a frame does not decode to the page, H5TX_EFORMAT for an encoding
 * this build does not read. */
int h5tx__page2_load(h5tx__plog *l, const h5tx__place *p, uint8_t *dst, uint32_t ps,
                     uint8_t *scratch, h5tx_error *err);

/* Decode the verified payload `payload` (p->stored bytes) of record `p`
 * into `dst` (p->raw bytes): H5TX_ECORRUPT ("page log segment S offset O:
 * ...") when a frame does not decode to p->raw bytes, H5TX_EFORMAT for an
 * encoding this build does not read. Safe from several threads. */
int h5tx__page2_decode(const h5tx__place *p, const uint8_t *payload, uint8_t *dst, h5tx_error *err);

#endif
