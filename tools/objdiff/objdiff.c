/* objdiff.c - h5tx-diff-objects, what `h5tx diff --objects` runs: compares
 * an HDF5 file of a store at two revisions object by object, read through
 * the h5tx driver with HDF5 (1.10 or 1.14), and lists the groups, datasets
 * (shape, dtype, layout, filters, data and the chunks whose stored bytes
 * changed), named datatypes, links and attributes that were added, removed
 * or changed. A separate program because the h5tx command links no HDF5.
 *
 * Chunks are compared as stored (raw, compressed bytes, H5Dread_chunk),
 * never decompressed, when both sides have the same chunk shape, dtype and
 * filters; a chunk at the same file address whose pages the store says are
 * unchanged (h5tx_diff) is equal without being read. Anything else (other
 * layouts, variable-length types, changed filters) is compared by reading
 * its values, a block at a time. */
#include "H5FDh5tx.h"
#include "cli.h"
#include "out.h"

#include <errno.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RANK 32
#define MAX_FILTERS 16
#define MAX_CD 16
#define BLOCK (16u << 20) /* bytes read per side and step when values are compared */
#define MAX_LISTED 1000   /* chunk offsets listed per dataset (counts are always complete) */

#if H5_VERSION_GE(1, 14, 4)
#define HAVE_CHUNK_ITER 1 /* H5Dchunk_iter with an hsize_t size */
#endif
#if H5_VERSION_GE(1, 10, 5)
#define HAVE_CHUNK_INFO 1 /* H5Dget_num_chunks, H5Dget_chunk_info */
#endif

/* The HDF5 error that made an HDF5 call fail, as text: HDF5 calls
 * on_h5_error() when an API call fails, with its error stack intact (any
 * later call clears it), and the first message since h5_reset() is kept:
 * later failures are mostly cleanup. The innermost message is the one that
 * names the cause (the driver's names store, file and revision). */
static char h5_msg[1024];

static herr_t walk_error(unsigned n, const H5E_error2_t *e, void *arg) {
  (void)arg;
  size_t used = strlen(h5_msg);
  snprintf(h5_msg + used, sizeof h5_msg - used, "%s%s", n ? " | " : "", e->desc ? e->desc : "");
  return 0;
}

static herr_t on_h5_error(hid_t stack, void *arg) {
  (void)arg;
  if (!h5_msg[0]) H5Ewalk2(stack, H5E_WALK_UPWARD, walk_error, NULL);
  return 0;
}

static void h5_reset(void) {
  H5Eclear2(H5E_DEFAULT);
  h5_msg[0] = 0;
}

static const char *h5_error(void) { return h5_msg[0] ? h5_msg : "unknown HDF5 error"; }

/* ---- growing arrays ------------------------------------------------------ */

static int grow(void **v, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return 0;
  size_t c = *cap ? 2 * *cap : 16;
  void *p = realloc(*v, c * size);
  if (!p) return -1;
  *v = p;
  *cap = c;
  return 0;
}

/* ---- objects ------------------------------------------------------------- */

enum kind { K_GROUP, K_DATASET, K_DATATYPE, K_SOFT, K_EXTERNAL, K_OTHER };
static const char *const kind_names[] = {"group",     "dataset",       "datatype",
                                         "soft link", "external link", "object"};

typedef struct obj {
  char *path;
  enum kind kind;
  char *target; /* soft or external link: where it points */
} obj;

typedef struct objs {
  obj *v;
  size_t n, cap;
  int oom;
} objs;

static int add_obj(objs *o, const char *path, enum kind k, const char *target) {
  if (grow((void **)&o->v, &o->cap, o->n, sizeof *o->v)) return o->oom = 1, -1;
  obj *x = &o->v[o->n];
  x->path = strdup(path);
  x->kind = k;
  x->target = target ? strdup(target) : NULL;
  if (!x->path || (target && !x->target)) {
    free(x->path);
    free(x->target);
    return o->oom = 1, -1;
  }
  o->n++;
  return 0;
}

static herr_t visit_link(hid_t g, const char *name, const H5L_info_t *li, void *arg) {
  objs *o = arg;
  char path[4200];
  snprintf(path, sizeof path, "/%s", name);
  if (li->type == H5L_TYPE_HARD) {
    hid_t id = H5Oopen(g, name, H5P_DEFAULT);
    if (id < 0) return -1;
    H5I_type_t t = H5Iget_type(id);
    H5Oclose(id);
    enum kind k = t == H5I_GROUP      ? K_GROUP
                  : t == H5I_DATASET  ? K_DATASET
                  : t == H5I_DATATYPE ? K_DATATYPE
                                      : K_OTHER;
    return add_obj(o, path, k, NULL) ? -1 : 0;
  }
  /* A link that is not hard: its value says where it points. */
  size_t n = li->u.val_size;
  char *buf = malloc(n + 1);
  if (!buf) return o->oom = 1, -1;
  char target[4200];
  target[0] = 0;
  if (H5Lget_val(g, name, buf, n, H5P_DEFAULT) >= 0) {
    buf[n] = 0;
    if (li->type == H5L_TYPE_SOFT) {
      snprintf(target, sizeof target, "%s", buf);
    } else if (li->type == H5L_TYPE_EXTERNAL) {
      const char *file = NULL, *opath = NULL;
      unsigned flags = 0;
      if (H5Lunpack_elink_val(buf, n, &flags, &file, &opath) >= 0)
        snprintf(target, sizeof target, "%s:%s", file ? file : "", opath ? opath : "");
    }
  }
  free(buf);
  h5_reset();
  enum kind k = li->type == H5L_TYPE_SOFT       ? K_SOFT
                : li->type == H5L_TYPE_EXTERNAL ? K_EXTERNAL
                                                : K_OTHER;
  return add_obj(o, path, k, target) ? -1 : 0;
}

static int cmp_obj(const void *a, const void *b) {
  return strcmp(((const obj *)a)->path, ((const obj *)b)->path);
}

/* Every link of `file` (the root group as "/"), sorted by path. 0 or -1. */
static int list_objects(hid_t file, objs *o) {
  if (add_obj(o, "/", K_GROUP, NULL)) return -1;
  if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, visit_link, o) < 0) return -1;
  qsort(o->v, o->n, sizeof *o->v, cmp_obj);
  return 0;
}

static void free_objs(objs *o) {
  for (size_t i = 0; i < o->n; i++) {
    free(o->v[i].path);
    free(o->v[i].target);
  }
  free(o->v);
}

/* ---- a side of the comparison ------------------------------------------- */

typedef struct run {
  uint64_t off, len;
} run;

typedef struct side {
  hid_t file; /* negative when the file is absent at that revision */
  h5tx_rev rev;
  hsize_t base; /* HDF5's base address (the user block) */
} side;

typedef struct ctx {
  side a, b;
  run *runs; /* byte ranges that differ between the revisions (h5tx_diff) */
  size_t nruns, cap;
  int have_runs; /* runs are known: unchanged pages can be trusted */
  cli_json *j;   /* --json output, or NULL */
  int first;     /* no text line printed yet */
} ctx;

static int add_run(void *arg, uint64_t first, uint64_t count, uint64_t offset, uint64_t length) {
  (void)first;
  (void)count;
  ctx *c = arg;
  if (grow((void **)&c->runs, &c->cap, c->nruns, sizeof *c->runs)) return H5TX_ENOMEM;
  c->runs[c->nruns++] = (run){offset, length};
  return 0;
}

/* Are bytes [off, off + len) of the file the same pages in both revisions? */
static int pages_unchanged(const ctx *c, uint64_t off, uint64_t len) {
  if (!c->have_runs) return 0;
  for (size_t i = 0; i < c->nruns; i++)
    if (c->runs[i].off < off + len && off < c->runs[i].off + c->runs[i].len) return 0;
  return 1;
}

/* ---- types and datasets, described -------------------------------------- */

/* "int32", "float64", "string[8]", "compound(3 members, 24 bytes)". */
static void describe_type(hid_t t, char *buf, size_t cap) {
  size_t size = H5Tget_size(t);
  H5T_class_t cls = H5Tget_class(t);
  switch (cls) {
  case H5T_INTEGER:
    snprintf(buf, cap, "%sint%zu%s", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", 8 * size,
             H5Tget_order(t) == H5T_ORDER_BE ? " (big-endian)" : "");
    break;
  case H5T_FLOAT:
    snprintf(buf, cap, "float%zu%s", 8 * size,
             H5Tget_order(t) == H5T_ORDER_BE ? " (big-endian)" : "");
    break;
  case H5T_STRING:
    if (H5Tis_variable_str(t) > 0)
      snprintf(buf, cap, "string (variable length%s)",
               H5Tget_cset(t) == H5T_CSET_UTF8 ? ", UTF-8" : "");
    else
      snprintf(buf, cap, "string[%zu]%s", size, H5Tget_cset(t) == H5T_CSET_UTF8 ? " (UTF-8)" : "");
    break;
  case H5T_COMPOUND:
    snprintf(buf, cap, "compound(%d members, %zu bytes)", H5Tget_nmembers(t), size);
    break;
  case H5T_ENUM: snprintf(buf, cap, "enum(%d values, %zu bytes)", H5Tget_nmembers(t), size); break;
  case H5T_ARRAY: {
    int r = H5Tget_array_ndims(t);
    hsize_t d[MAX_RANK];
    char base[96] = "?";
    hid_t bt = H5Tget_super(t);
    if (bt >= 0) {
      describe_type(bt, base, sizeof base);
      H5Tclose(bt);
    }
    size_t n = (size_t)snprintf(buf, cap, "%s[", base);
    if (r > 0 && r <= MAX_RANK && H5Tget_array_dims2(t, d) >= 0)
      for (int i = 0; i < r && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? "," : "", (unsigned long long)d[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    break;
  }
  case H5T_VLEN: {
    char base[96] = "?";
    hid_t bt = H5Tget_super(t);
    if (bt >= 0) {
      describe_type(bt, base, sizeof base);
      H5Tclose(bt);
    }
    snprintf(buf, cap, "vlen(%s)", base);
    break;
  }
  case H5T_OPAQUE: snprintf(buf, cap, "opaque(%zu bytes)", size); break;
  case H5T_BITFIELD: snprintf(buf, cap, "bitfield%zu", 8 * size); break;
  case H5T_REFERENCE: snprintf(buf, cap, "reference"); break;
  case H5T_TIME: snprintf(buf, cap, "time(%zu bytes)", size); break;
  default: snprintf(buf, cap, "unknown(%zu bytes)", size);
  }
}

static const char *filter_short_name(unsigned id) {
  switch (id) {
  case H5Z_FILTER_DEFLATE: return "gzip";
  case H5Z_FILTER_SHUFFLE: return "shuffle";
  case H5Z_FILTER_FLETCHER32: return "fletcher32";
  case H5Z_FILTER_SZIP: return "szip";
  case H5Z_FILTER_NBIT: return "nbit";
  case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
  case 32015: return "zstd";
  case 32001: return "blosc";
  case 32004: return "lz4";
  case 307: return "bzip2";
  default: return NULL;
  }
}

typedef struct filt {
  unsigned id;
  size_t ncd;
  unsigned cd[MAX_CD];
  char name[64];
} filt;

typedef struct dsinfo {
  hid_t d, type, space, dcpl;
  int rank;
  hsize_t dims[MAX_RANK], maxdims[MAX_RANK];
  H5D_layout_t layout;
  int crank;
  hsize_t cdims[MAX_RANK];
  int nfilt;
  filt f[MAX_FILTERS];
  int vlen; /* the type holds variable-length data */
  size_t tsize;
  char dtype[160];
} dsinfo;

static void close_ds(dsinfo *x) {
  if (x->dcpl >= 0) H5Pclose(x->dcpl);
  if (x->space >= 0) H5Sclose(x->space);
  if (x->type >= 0) H5Tclose(x->type);
  if (x->d >= 0) H5Dclose(x->d);
}

/* 0, or -1 (HDF5's message in h5_error()). */
static int open_ds(hid_t file, const char *path, dsinfo *x) {
  memset(x, 0, sizeof *x);
  x->type = x->space = x->dcpl = -1;
  if ((x->d = H5Dopen2(file, path, H5P_DEFAULT)) < 0 || (x->type = H5Dget_type(x->d)) < 0 ||
      (x->space = H5Dget_space(x->d)) < 0 || (x->dcpl = H5Dget_create_plist(x->d)) < 0)
    return -1;
  x->rank = H5Sget_simple_extent_ndims(x->space);
  if (x->rank < 0 || x->rank > MAX_RANK) return -1;
  H5Sget_simple_extent_dims(x->space, x->dims, x->maxdims);
  x->layout = H5Pget_layout(x->dcpl);
  if (x->layout == H5D_CHUNKED) x->crank = H5Pget_chunk(x->dcpl, MAX_RANK, x->cdims);
  int nf = H5Pget_nfilters(x->dcpl);
  for (int i = 0; i < nf && i < MAX_FILTERS; i++) {
    filt *f = &x->f[x->nfilt++];
    unsigned flags = 0, conf = 0;
    f->ncd = MAX_CD;
    H5Z_filter_t id = H5Pget_filter2(x->dcpl, (unsigned)i, &flags, &f->ncd, f->cd, sizeof f->name,
                                     f->name, &conf);
    f->id = (unsigned)id;
    if (f->ncd > MAX_CD) f->ncd = MAX_CD;
    const char *sn = filter_short_name(f->id);
    if (sn)
      snprintf(f->name, sizeof f->name, "%s", sn);
    else if (!f->name[0])
      snprintf(f->name, sizeof f->name, "filter %u", f->id);
  }
  x->vlen = H5Tdetect_class(x->type, H5T_VLEN) > 0 || H5Tis_variable_str(x->type) > 0;
  x->tsize = H5Tget_size(x->type);
  describe_type(x->type, x->dtype, sizeof x->dtype);
  return 0;
}

static int same_filters(const dsinfo *a, const dsinfo *b) {
  if (a->nfilt != b->nfilt) return 0;
  for (int i = 0; i < a->nfilt; i++)
    if (a->f[i].id != b->f[i].id || a->f[i].ncd != b->f[i].ncd ||
        memcmp(a->f[i].cd, b->f[i].cd, a->f[i].ncd * sizeof a->f[i].cd[0]) != 0)
      return 0;
  return 1;
}

static int same_dims(const hsize_t *a, const hsize_t *b, int rank) {
  return rank <= 0 || memcmp(a, b, (size_t)rank * sizeof *a) == 0;
}

static const char *layout_name(H5D_layout_t l) {
  switch (l) {
  case H5D_COMPACT: return "compact";
  case H5D_CONTIGUOUS: return "contiguous";
  case H5D_CHUNKED: return "chunked";
#if H5_VERSION_GE(1, 10, 0)
  case H5D_VIRTUAL: return "virtual";
#endif
  default: return "unknown";
  }
}

/* "(100, 10)", with "/unlimited" max where it differs: "(100/inf, 10)". */
static void fmt_shape(char *buf, size_t cap, const hsize_t *d, const hsize_t *maxd, int rank) {
  size_t n = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < rank && n < cap; i++) {
    n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "", (unsigned long long)d[i]);
    if (maxd && maxd[i] != d[i] && n < cap) {
      if (maxd[i] == H5S_UNLIMITED)
        n += (size_t)snprintf(buf + n, cap - n, "/inf");
      else
        n += (size_t)snprintf(buf + n, cap - n, "/%llu", (unsigned long long)maxd[i]);
    }
  }
  if (rank == 1 && n < cap) n += (size_t)snprintf(buf + n, cap - n, ",");
  if (n < cap) snprintf(buf + n, cap - n, ")");
}

static void fmt_filters(char *buf, size_t cap, const dsinfo *x) {
  size_t n = 0;
  buf[0] = 0;
  if (x->nfilt == 0) snprintf(buf, cap, "none");
  for (int i = 0; i < x->nfilt && n < cap; i++) {
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", x->f[i].name);
    if (x->f[i].id == H5Z_FILTER_DEFLATE && x->f[i].ncd >= 1 && n < cap)
      n += (size_t)snprintf(buf + n, cap - n, " %u", x->f[i].cd[0]);
  }
}

/* ---- comparing values ---------------------------------------------------- */

/* Compare `n` elements of memory type `t` at `a` and `b` as HDF5 read
 * them: variable-length data by content, everything else by bytes. */
static int values_differ(hid_t t, const unsigned char *a, const unsigned char *b, size_t n) {
  size_t size = H5Tget_size(t);
  H5T_class_t cls = H5Tget_class(t);
  if (cls == H5T_STRING && H5Tis_variable_str(t) > 0) {
    for (size_t i = 0; i < n; i++) {
      const char *x = ((char *const *)(const void *)a)[i], *y = ((char *const *)(const void *)b)[i];
      if (strcmp(x ? x : "", y ? y : "") != 0) return 1;
    }
    return 0;
  }
  if (cls == H5T_VLEN) {
    hid_t bt = H5Tget_super(t);
    int d = 0;
    for (size_t i = 0; i < n && !d; i++) {
      const hvl_t *x = (const hvl_t *)(const void *)(a + i * size);
      const hvl_t *y = (const hvl_t *)(const void *)(b + i * size);
      d = x->len != y->len || (x->len && values_differ(bt, x->p, y->p, x->len));
    }
    H5Tclose(bt);
    return d;
  }
  if (cls == H5T_COMPOUND && H5Tdetect_class(t, H5T_VLEN) + H5Tdetect_class(t, H5T_STRING) > 0) {
    int nm = H5Tget_nmembers(t), d = 0;
    for (size_t i = 0; i < n && !d; i++)
      for (int m = 0; m < nm && !d; m++) {
        hid_t mt = H5Tget_member_type(t, (unsigned)m);
        size_t off = H5Tget_member_offset(t, (unsigned)m);
        d = values_differ(mt, a + i * size + off, b + i * size + off, 1);
        H5Tclose(mt);
      }
    return d;
  }
  if (cls == H5T_ARRAY && H5Tdetect_class(t, H5T_VLEN) + H5Tdetect_class(t, H5T_STRING) > 0) {
    hid_t bt = H5Tget_super(t);
    size_t bs = H5Tget_size(bt), per = bs ? size / bs : 0;
    int d = values_differ(bt, a, b, n * per);
    H5Tclose(bt);
    return d;
  }
  return memcmp(a, b, n * size) != 0;
}

static void reclaim(hid_t t, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(t, space, H5P_DEFAULT, buf);
#else
  H5Dvlen_reclaim(t, space, H5P_DEFAULT, buf);
#endif
}

/* Read the hyperslab [start, start + count) of `a` and `b` (same type) and
 * compare the values: 1 differ, 0 equal, -1 error. */
static int region_differs(const dsinfo *a, const dsinfo *b, const hsize_t *start,
                          const hsize_t *count) {
  hsize_t n = 1;
  for (int i = 0; i < a->rank; i++)
    n *= count[i];
  if (n == 0) return 0;
  hid_t mem = H5Screate_simple(1, &n, NULL);
  hid_t fa = H5Scopy(a->space), fb = H5Scopy(b->space);
  unsigned char *ba = calloc(n, a->tsize), *bb = calloc(n, a->tsize);
  int rc = -1, ra = -1, rb = -1;
  if ((!ba || !bb) && mem >= 0 && fa >= 0 && fb >= 0) {
    cli_fail_code("H5TX_ENOMEM", "out of memory reading %llu values", (unsigned long long)n);
    rc = -2;
  }
  if (mem < 0 || fa < 0 || fb < 0 || !ba || !bb) goto out;
  if (a->rank > 0 && (H5Sselect_hyperslab(fa, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
                      H5Sselect_hyperslab(fb, H5S_SELECT_SET, start, NULL, count, NULL) < 0))
    goto out;
  ra = H5Dread(a->d, a->type, mem, fa, H5P_DEFAULT, ba);
  rb = ra < 0 ? -1 : H5Dread(b->d, a->type, mem, fb, H5P_DEFAULT, bb);
  if (ra >= 0 && rb >= 0) rc = values_differ(a->type, ba, bb, (size_t)n);
out:
  if (a->vlen && ra >= 0) reclaim(a->type, mem, ba);
  if (a->vlen && rb >= 0) reclaim(a->type, mem, bb);
  free(ba);
  free(bb);
  if (mem >= 0) H5Sclose(mem);
  if (fa >= 0) H5Sclose(fa);
  if (fb >= 0) H5Sclose(fb);
  return rc;
}

/* Compare all values of `a` and `b` (same type and shape) in blocks of
 * whole rows of at most about BLOCK bytes: 1, 0 or -1. */
static int data_differs(const dsinfo *a, const dsinfo *b) {
  if (H5Sget_simple_extent_npoints(a->space) == 0) return 0; /* empty or null */
  if (a->rank == 0) return region_differs(a, b, NULL, NULL); /* scalar */
  hsize_t row = a->tsize;
  for (int i = 1; i < a->rank; i++)
    row *= a->dims[i];
  hsize_t rows = row ? BLOCK / row : 1;
  if (rows == 0) rows = 1;
  hsize_t start[MAX_RANK] = {0}, count[MAX_RANK];
  memcpy(count, a->dims, sizeof count);
  for (hsize_t r = 0; r < a->dims[0]; r += rows) {
    start[0] = r;
    count[0] = a->dims[0] - r < rows ? a->dims[0] - r : rows;
    int d = region_differs(a, b, start, count);
    if (d) return d;
  }
  return 0;
}

/* ---- chunks -------------------------------------------------------------- */

typedef struct chunk {
  hsize_t off[MAX_RANK];
  unsigned mask;
  haddr_t addr;
  hsize_t size;
} chunk;

typedef struct chunks {
  chunk *v;
  size_t n, cap;
  int rank, oom;
} chunks;

static int add_chunk(chunks *c, const hsize_t *off, unsigned mask, haddr_t addr, hsize_t size) {
  if (grow((void **)&c->v, &c->cap, c->n, sizeof *c->v)) return c->oom = 1, -1;
  chunk *x = &c->v[c->n++];
  memset(x->off, 0, sizeof x->off);
  memcpy(x->off, off, (size_t)c->rank * sizeof *off);
  x->mask = mask;
  x->addr = addr;
  x->size = size;
  return 0;
}

#ifdef HAVE_CHUNK_ITER
static int iter_chunk(const hsize_t *off, unsigned mask, haddr_t addr, hsize_t size, void *arg) {
  return add_chunk(arg, off, mask, addr, size) ? H5_ITER_ERROR : H5_ITER_CONT;
}
#endif

static int rank_for_sort;
static int cmp_chunk(const void *x, const void *y) {
  const chunk *a = x, *b = y;
  for (int i = 0; i < rank_for_sort; i++)
    if (a->off[i] != b->off[i]) return a->off[i] < b->off[i] ? -1 : 1;
  return 0;
}

/* The allocated chunks of `x`, sorted by offset. 0, or -1 (HDF5 error),
 * or 1 when this HDF5 cannot list chunks. */
static int list_chunks(const dsinfo *x, chunks *c) {
  memset(c, 0, sizeof *c);
  c->rank = x->rank;
#if defined(HAVE_CHUNK_ITER)
  if (H5Dchunk_iter(x->d, H5P_DEFAULT, iter_chunk, c) < 0) return -1;
#elif defined(HAVE_CHUNK_INFO)
  hsize_t n = 0;
  if (H5Dget_num_chunks(x->d, x->space, &n) < 0) return -1;
  for (hsize_t i = 0; i < n; i++) {
    hsize_t off[MAX_RANK];
    unsigned mask = 0;
    haddr_t addr = 0;
    hsize_t size = 0;
    if (H5Dget_chunk_info(x->d, x->space, i, off, &mask, &addr, &size) < 0 ||
        add_chunk(c, off, mask, addr, size))
      return -1;
  }
#else
  (void)x;
  return 1;
#endif
  rank_for_sort = x->rank;
  if (c->n) qsort(c->v, c->n, sizeof *c->v, cmp_chunk);
  return 0;
}

/* What happened to one chunk. */
enum { CH_ADDED, CH_REMOVED, CH_CHANGED };
static const char *const ch_names[] = {"added", "removed", "changed"};

typedef struct chdiff {
  const hsize_t *off;
  int status;
} chdiff;

typedef struct dsdiff {
  int data;            /* 1 changed, 0 equal, -1 not compared */
  const char *how;     /* "stored bytes", "values" */
  const char *why_not; /* when not compared */
  int chunked;         /* the counts below mean something */
  size_t total, changed, added, removed, read, skipped;
  chdiff *list; /* at most MAX_LISTED, offsets point into ca/cb */
  size_t nlist, cap;
  chunks ca, cb;
} dsdiff;

static void note_chunk(dsdiff *r, const hsize_t *off, int status) {
  if (status == CH_ADDED)
    r->added++;
  else if (status == CH_REMOVED)
    r->removed++;
  else
    r->changed++;
  if (r->nlist < MAX_LISTED && !grow((void **)&r->list, &r->cap, r->nlist, sizeof *r->list))
    r->list[r->nlist++] = (chdiff){off, status};
}

/* Chunk by chunk, as stored: both sides have the same chunk shape, type
 * and filters. 0, or -1 (an HDF5 error). */
static int diff_chunks_raw(const ctx *c, const dsinfo *a, const dsinfo *b, dsdiff *r) {
  r->how = "stored bytes";
  size_t i = 0, k = 0;
  unsigned char *ba = NULL, *bb = NULL;
  size_t cap = 0;
  rank_for_sort = a->rank;
  while (i < r->ca.n || k < r->cb.n) {
    int o = i >= r->ca.n ? 1 : k >= r->cb.n ? -1 : cmp_chunk(&r->ca.v[i], &r->cb.v[k]);
    r->total++;
    if (o < 0) {
      note_chunk(r, r->ca.v[i++].off, CH_REMOVED);
      continue;
    }
    if (o > 0) {
      note_chunk(r, r->cb.v[k++].off, CH_ADDED);
      continue;
    }
    const chunk *x = &r->ca.v[i++], *y = &r->cb.v[k++];
    if (x->mask != y->mask || x->size != y->size) {
      note_chunk(r, y->off, CH_CHANGED);
      continue;
    }
    if (x->addr == y->addr && c->a.base == c->b.base &&
        pages_unchanged(c, (uint64_t)(c->a.base + x->addr), x->size)) {
      r->skipped++; /* the same stored bytes: not read */
      continue;
    }
    if (x->size > cap) {
      unsigned char *na = realloc(ba, x->size), *nb = na ? realloc(bb, x->size) : NULL;
      if (na) ba = na;
      if (nb) bb = nb;
      if (!na || !nb) {
        free(ba);
        free(bb);
        cli_fail_code("H5TX_ENOMEM", "out of memory reading a chunk of %llu bytes",
                      (unsigned long long)x->size);
        return -2;
      }
      cap = x->size;
    }
    uint32_t ma = 0, mb = 0;
    if (H5Dread_chunk(a->d, H5P_DEFAULT, x->off, &ma, ba) < 0 ||
        H5Dread_chunk(b->d, H5P_DEFAULT, y->off, &mb, bb) < 0) {
      free(ba);
      free(bb);
      return -1;
    }
    r->read++;
    if (ma != mb || memcmp(ba, bb, x->size) != 0) note_chunk(r, y->off, CH_CHANGED);
  }
  free(ba);
  free(bb);
  r->data = r->changed + r->added + r->removed > 0;
  return 0;
}

/* Chunk by chunk, by value: same chunk shape, type and extent, but other
 * filters or variable-length data. 0, or -1. */
static int diff_chunks_values(const dsinfo *a, const dsinfo *b, dsdiff *r) {
  r->how = "values";
  size_t i = 0, k = 0;
  rank_for_sort = a->rank;
  while (i < r->ca.n || k < r->cb.n) {
    int o = i >= r->ca.n ? 1 : k >= r->cb.n ? -1 : cmp_chunk(&r->ca.v[i], &r->cb.v[k]);
    const hsize_t *off = o <= 0 ? r->ca.v[i].off : r->cb.v[k].off;
    if (o <= 0) i++;
    if (o >= 0) k++;
    r->total++;
    hsize_t count[MAX_RANK];
    for (int d = 0; d < a->rank; d++)
      count[d] = off[d] + a->cdims[d] > a->dims[d] ? a->dims[d] - off[d] : a->cdims[d];
    int d = region_differs(a, b, off, count);
    if (d < 0) return d;
    r->read++;
    /* A chunk allocated on one side only reads as fill on the other. */
    if (d) note_chunk(r, off, o < 0 ? CH_REMOVED : o > 0 ? CH_ADDED : CH_CHANGED);
  }
  r->data = r->changed + r->added + r->removed > 0;
  return 0;
}

/* Compare the data of dataset `a` with `b`. 0, or -1 (an HDF5 error), or
 * -2 (reported). */
static int diff_data(const ctx *c, const dsinfo *a, const dsinfo *b, dsdiff *r) {
  memset(r, 0, sizeof *r);
  r->data = -1;
  if (a->layout == H5D_VIRTUAL || b->layout == H5D_VIRTUAL) {
    r->why_not = "virtual dataset";
    return 0;
  }
  if (H5Tequal(a->type, b->type) <= 0) {
    r->why_not = "dtype changed";
    return 0;
  }
  int same_shape = a->rank == b->rank && same_dims(a->dims, b->dims, a->rank);
  int same_chunks = a->layout == H5D_CHUNKED && b->layout == H5D_CHUNKED && a->crank == b->crank &&
                    same_dims(a->cdims, b->cdims, a->crank) && a->rank == b->rank;
  if (same_chunks) {
    int la = list_chunks(a, &r->ca), lb = la ? la : list_chunks(b, &r->cb);
    if (la < 0 || lb < 0) {
      if (!r->ca.oom && !r->cb.oom) return -1;
      cli_fail_code("H5TX_ENOMEM", "out of memory listing chunks");
      return -2;
    }
    if (la == 0 && lb == 0) {
      r->chunked = 1;
      if (same_filters(a, b) && !a->vlen) return diff_chunks_raw(c, a, b, r);
      if (same_shape) return diff_chunks_values(a, b, r);
      r->chunked = 0;
    }
  }
  if (!same_shape) {
    r->why_not = "shape changed";
    return 0;
  }
  /* Contiguous storage at the same place in unchanged pages is equal. */
  if (a->layout == H5D_CONTIGUOUS && b->layout == H5D_CONTIGUOUS && !a->vlen) {
    haddr_t oa = H5Dget_offset(a->d), ob = H5Dget_offset(b->d);
    hsize_t sa = H5Dget_storage_size(a->d), sb = H5Dget_storage_size(b->d);
    h5_reset();
    if (oa != HADDR_UNDEF && oa == ob && sa == sb && c->a.base == c->b.base &&
        pages_unchanged(c, (uint64_t)(c->a.base + oa), sa)) {
      r->data = 0;
      r->how = "stored bytes";
      return 0;
    }
  }
  r->how = "values";
  int d = data_differs(a, b);
  if (d < 0) return d;
  r->data = d;
  return 0;
}

static void free_dsdiff(dsdiff *r) {
  free(r->list);
  free(r->ca.v);
  free(r->cb.v);
}

/* ---- attributes ---------------------------------------------------------- */

typedef struct names {
  char **v;
  size_t n, cap;
  int oom;
} names;

static herr_t add_attr_name(hid_t loc, const char *name, const H5A_info_t *info, void *arg) {
  (void)loc;
  (void)info;
  names *l = arg;
  if (grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) || !(l->v[l->n] = strdup(name)))
    return l->oom = 1, -1;
  l->n++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(names *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
}

/* A small attribute value (at most 8 numbers or strings) as people and
 * JSON read it; kind 0 when it is larger or of another class. */
#define MAX_SHOWN 8
typedef struct aval {
  int kind; /* 0 not shown, 1 signed, 2 unsigned, 3 float, 4 string */
  int scalar;
  size_t n;
  long long i[MAX_SHOWN];
  unsigned long long u[MAX_SHOWN];
  double f[MAX_SHOWN];
  char *s[MAX_SHOWN];
} aval;

static void free_aval(aval *v) {
  for (size_t i = 0; v->kind == 4 && i < v->n; i++)
    free(v->s[i]);
  v->kind = 0;
}

static void read_aval(hid_t at, hid_t type, hid_t space, aval *v) {
  memset(v, 0, sizeof *v);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 1 || n > MAX_SHOWN) return;
  v->n = (size_t)n;
  v->scalar = H5Sget_simple_extent_ndims(space) == 0;
  H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_NONE) {
    if (H5Aread(at, H5T_NATIVE_ULLONG, v->u) >= 0) v->kind = 2;
  } else if (cls == H5T_INTEGER) {
    if (H5Aread(at, H5T_NATIVE_LLONG, v->i) >= 0) v->kind = 1;
  } else if (cls == H5T_FLOAT) {
    if (H5Aread(at, H5T_NATIVE_DOUBLE, v->f) >= 0) v->kind = 3;
  } else if (cls == H5T_STRING && H5Tis_variable_str(type) > 0) {
    char *p[MAX_SHOWN] = {NULL};
    if (H5Aread(at, type, p) >= 0) {
      v->kind = 4;
      for (size_t i = 0; i < v->n; i++)
        v->s[i] = strdup(p[i] ? p[i] : "");
      reclaim(type, space, p);
    }
  } else if (cls == H5T_STRING) {
    size_t size = H5Tget_size(type);
    char *buf = calloc(v->n, size);
    if (buf && H5Aread(at, type, buf) >= 0) {
      v->kind = 4;
      for (size_t i = 0; i < v->n; i++)
        v->s[i] = strndup(buf + i * size, size);
    }
    free(buf);
  }
  for (size_t i = 0; v->kind == 4 && i < v->n; i++)
    if (!v->s[i]) v->s[i] = strdup("");
  h5_reset();
}

static void print_aval(const aval *v) {
  if (!v->kind) {
    printf("(%zu value%s)", v->n, v->n == 1 ? "" : "s");
    return;
  }
  if (!v->scalar) putchar('[');
  for (size_t i = 0; i < v->n; i++) {
    if (i) printf(", ");
    switch (v->kind) {
    case 1: printf("%lld", v->i[i]); break;
    case 2: printf("%llu", v->u[i]); break;
    case 3: printf("%.17g", v->f[i]); break;
    default: cli_json_quote(stdout, v->s[i] ? v->s[i] : "");
    }
  }
  if (!v->scalar) putchar(']');
}

static void json_aval(cli_json *j, const char *key, const aval *v) {
  if (!v->kind) {
    cli_json_null(j, key);
    return;
  }
  if (!v->scalar) cli_json_array(j, key);
  for (size_t i = 0; i < v->n; i++) {
    const char *k = v->scalar ? key : NULL;
    switch (v->kind) {
    case 1: cli_json_i64(j, k, v->i[i]); break;
    case 2: cli_json_u64(j, k, v->u[i]); break;
    case 3: cli_json_double(j, k, v->f[i]); break;
    default: cli_json_str(j, k, v->s[i]);
    }
  }
  if (!v->scalar) cli_json_end(j);
}

/* One attribute, opened, with what people are shown of it. */
typedef struct attr {
  hid_t a, type, space;
  char dtype[160], shape[256];
  aval v;
} attr;

static int open_attr(hid_t obj_id, const char *name, attr *x) {
  memset(x, 0, sizeof *x);
  x->a = x->type = x->space = -1;
  if ((x->a = H5Aopen(obj_id, name, H5P_DEFAULT)) < 0 || (x->type = H5Aget_type(x->a)) < 0 ||
      (x->space = H5Aget_space(x->a)) < 0)
    return -1;
  hsize_t d[MAX_RANK];
  int r = H5Sget_simple_extent_ndims(x->space);
  if (r < 0 || r > MAX_RANK) return -1;
  H5Sget_simple_extent_dims(x->space, d, NULL);
  fmt_shape(x->shape, sizeof x->shape, d, NULL, r);
  describe_type(x->type, x->dtype, sizeof x->dtype);
  read_aval(x->a, x->type, x->space, &x->v);
  return 0;
}

static void close_attr(attr *x) {
  free_aval(&x->v);
  if (x->space >= 0) H5Sclose(x->space);
  if (x->type >= 0) H5Tclose(x->type);
  if (x->a >= 0) H5Aclose(x->a);
}

/* Do the values of two attributes of the same type and shape differ?
 * 1, 0, or -1. */
static int attr_differs(const attr *x, const attr *y) {
  hssize_t n = H5Sget_simple_extent_npoints(x->space);
  size_t size = H5Tget_size(x->type);
  if (n <= 0) return 0;
  unsigned char *bx = calloc((size_t)n, size), *by = calloc((size_t)n, size);
  int rc = -1, rx = -1, ry = -1;
  if (bx && by && (rx = H5Aread(x->a, x->type, bx)) >= 0 && (ry = H5Aread(y->a, x->type, by)) >= 0)
    rc = values_differ(x->type, bx, by, (size_t)n);
  int vl = H5Tdetect_class(x->type, H5T_VLEN) > 0 || H5Tis_variable_str(x->type) > 0;
  if (vl && rx >= 0) reclaim(x->type, x->space, bx);
  if (vl && ry >= 0) reclaim(x->type, x->space, by);
  free(bx);
  free(by);
  return rc;
}

/* ---- the report ---------------------------------------------------------- */

typedef struct counts {
  size_t objects, attributes;
} counts;

static void json_ds_side(cli_json *j, const char *key, const dsinfo *x) {
  if (!x) {
    cli_json_null(j, key);
    return;
  }
  cli_json_object(j, key);
  cli_json_str(j, "dtype", x->dtype);
  cli_json_array(j, "shape");
  for (int i = 0; i < x->rank; i++)
    cli_json_u64(j, NULL, x->dims[i]);
  cli_json_end(j);
  cli_json_array(j, "maxshape");
  for (int i = 0; i < x->rank; i++)
    if (x->maxdims[i] == H5S_UNLIMITED)
      cli_json_null(j, NULL);
    else
      cli_json_u64(j, NULL, x->maxdims[i]);
  cli_json_end(j);
  cli_json_str(j, "layout", layout_name(x->layout));
  if (x->layout == H5D_CHUNKED) {
    cli_json_array(j, "chunk_shape");
    for (int i = 0; i < x->crank; i++)
      cli_json_u64(j, NULL, x->cdims[i]);
    cli_json_end(j);
  } else {
    cli_json_null(j, "chunk_shape");
  }
  cli_json_array(j, "filters");
  for (int i = 0; i < x->nfilt; i++) {
    cli_json_object(j, NULL);
    cli_json_u64(j, "id", x->f[i].id);
    cli_json_str(j, "name", x->f[i].name);
    cli_json_array(j, "options");
    for (size_t k = 0; k < x->f[i].ncd; k++)
      cli_json_u64(j, NULL, x->f[i].cd[k]);
    cli_json_end(j);
    cli_json_end(j);
  }
  cli_json_end(j);
  cli_json_end(j);
}

/* "int32 (100, 10) chunked (10, 10) gzip 4" */
static void fmt_ds(char *buf, size_t cap, const dsinfo *x) {
  char sh[256], ch[256], fl[256];
  fmt_shape(sh, sizeof sh, x->dims, x->maxdims, x->rank);
  fmt_filters(fl, sizeof fl, x);
  if (x->layout == H5D_CHUNKED)
    fmt_shape(ch, sizeof ch, x->cdims, NULL, x->crank);
  else
    ch[0] = 0;
  snprintf(buf, cap, "%s %s, %s%s%s, filters: %s", x->dtype, sh, layout_name(x->layout),
           ch[0] ? " " : "", ch, fl);
}

static void print_offset(const hsize_t *off, const hsize_t *cdims, int rank) {
  putchar('[');
  for (int i = 0; i < rank; i++)
    printf("%s%llu", i ? ", " : "", (unsigned long long)(cdims[i] ? off[i] / cdims[i] : off[i]));
  putchar(']');
}

static void mark(char *out, const char *status) {
  out[0] = status[0] == 'a' ? '+' : status[0] == 'r' ? '-' : '~';
  out[1] = 0;
}

/* An object added or removed (status), or a link changed. */
static void report_object(ctx *c, const char *status, const obj *o, const dsinfo *ds,
                          const obj *was) {
  if (c->j) {
    cli_json_object(c->j, NULL);
    cli_json_str(c->j, "path", o->path);
    cli_json_str(c->j, "kind", kind_names[o->kind]);
    cli_json_str(c->j, "status", status);
    if (o->kind == K_DATASET) {
      json_ds_side(c->j, "from", status[0] == 'r' ? ds : NULL);
      json_ds_side(c->j, "to", status[0] == 'a' ? ds : NULL);
    }
    if (o->kind == K_SOFT || o->kind == K_EXTERNAL) {
      cli_json_str(c->j, "from", was ? was->target : status[0] == 'r' ? o->target : NULL);
      cli_json_str(c->j, "to", status[0] == 'r' ? NULL : o->target);
    }
    cli_json_end(c->j);
    return;
  }
  char m[2], desc[1024] = "";
  mark(m, status);
  if (ds) fmt_ds(desc, sizeof desc, ds);
  if ((o->kind == K_SOFT || o->kind == K_EXTERNAL) && was)
    snprintf(desc, sizeof desc, "%s -> %s", was->target ? was->target : "",
             o->target ? o->target : "");
  else if (o->kind == K_SOFT || o->kind == K_EXTERNAL)
    snprintf(desc, sizeof desc, "-> %s", o->target ? o->target : "");
  printf("%s %-10s %s%s%s\n", m, kind_names[o->kind], o->path, desc[0] ? "  " : "", desc);
}

/* A dataset on both sides: report it when anything differs. 1 reported,
 * 0 equal, -1 HDF5 error, -2 reported error. */
static int report_dataset(ctx *c, const char *path, const dsinfo *a, const dsinfo *b) {
  dsdiff r;
  int rc = diff_data(c, a, b, &r);
  if (rc < 0) {
    free_dsdiff(&r);
    return rc;
  }
  int dtype = H5Tequal(a->type, b->type) <= 0;
  int shape = a->rank != b->rank || !same_dims(a->dims, b->dims, a->rank);
  int maxshape = !shape && !same_dims(a->maxdims, b->maxdims, a->rank);
  int layout = a->layout != b->layout ||
               (a->layout == H5D_CHUNKED &&
                (a->crank != b->crank || !same_dims(a->cdims, b->cdims, a->crank)));
  int filters = !same_filters(a, b);
  if (!dtype && !shape && !maxshape && !layout && !filters && r.data == 0) {
    free_dsdiff(&r);
    return 0;
  }
  const char *what[6];
  int nw = 0;
  if (dtype) what[nw++] = "dtype";
  if (shape || maxshape) what[nw++] = "shape";
  if (layout) what[nw++] = "layout";
  if (filters) what[nw++] = "filters";
  if (r.data != 0) what[nw++] = "data";
  if (c->j) {
    cli_json *j = c->j;
    cli_json_object(j, NULL);
    cli_json_str(j, "path", path);
    cli_json_str(j, "kind", "dataset");
    cli_json_str(j, "status", "changed");
    cli_json_array(j, "changes");
    for (int i = 0; i < nw; i++)
      cli_json_str(j, NULL, what[i]);
    cli_json_end(j);
    json_ds_side(j, "from", a);
    json_ds_side(j, "to", b);
    cli_json_object(j, "data");
    if (r.data < 0)
      cli_json_null(j, "changed");
    else
      cli_json_bool(j, "changed", r.data);
    cli_json_str(j, "compared", r.data < 0 ? NULL : r.how);
    cli_json_str(j, "not_compared_because", r.why_not);
    if (r.chunked) {
      cli_json_object(j, "chunks");
      cli_json_u64(j, "total", r.total);
      cli_json_u64(j, "changed", r.changed);
      cli_json_u64(j, "added", r.added);
      cli_json_u64(j, "removed", r.removed);
      cli_json_u64(j, "read", r.read);
      cli_json_u64(j, "unchanged_pages", r.skipped);
      cli_json_bool(j, "complete_list", r.changed + r.added + r.removed <= MAX_LISTED);
      cli_json_array(j, "list");
      for (size_t i = 0; i < r.nlist; i++) {
        cli_json_object(j, NULL);
        cli_json_str(j, "status", ch_names[r.list[i].status]);
        cli_json_array(j, "index");
        for (int d = 0; d < a->rank; d++)
          cli_json_u64(j, NULL, a->cdims[d] ? r.list[i].off[d] / a->cdims[d] : 0);
        cli_json_end(j);
        cli_json_array(j, "offset");
        for (int d = 0; d < a->rank; d++)
          cli_json_u64(j, NULL, r.list[i].off[d]);
        cli_json_end(j);
        cli_json_end(j);
      }
      cli_json_end(j);
      cli_json_end(j);
    } else {
      cli_json_null(j, "chunks");
    }
    cli_json_end(j);
    cli_json_end(j);
  } else {
    printf("~ %-10s %s\n", "dataset", path);
    char x[256], y[256];
    if (dtype) printf("      dtype     %s -> %s\n", a->dtype, b->dtype);
    if (shape || maxshape) {
      fmt_shape(x, sizeof x, a->dims, a->maxdims, a->rank);
      fmt_shape(y, sizeof y, b->dims, b->maxdims, b->rank);
      printf("      shape     %s -> %s\n", x, y);
    }
    if (layout) {
      char cx[256] = "", cy[256] = "";
      if (a->layout == H5D_CHUNKED) fmt_shape(cx, sizeof cx, a->cdims, NULL, a->crank);
      if (b->layout == H5D_CHUNKED) fmt_shape(cy, sizeof cy, b->cdims, NULL, b->crank);
      printf("      layout    %s%s%s -> %s%s%s\n", layout_name(a->layout), cx[0] ? " " : "", cx,
             layout_name(b->layout), cy[0] ? " " : "", cy);
    }
    if (filters) {
      fmt_filters(x, sizeof x, a);
      fmt_filters(y, sizeof y, b);
      printf("      filters   %s -> %s\n", x, y);
    }
    if (r.data < 0)
      printf("      data      not compared (%s)\n", r.why_not);
    else if (r.chunked && r.data)
      printf("      chunks    %zu changed, %zu added, %zu removed of %zu (%s compared)\n",
             r.changed, r.added, r.removed, r.total, r.how);
    else
      printf("      data      %s (%s compared)\n", r.data ? "changed" : "same", r.how);
    for (int st = CH_ADDED; r.chunked && st <= CH_CHANGED; st++) {
      size_t shown = 0;
      for (size_t i = 0; i < r.nlist && shown < 16; i++) {
        if (r.list[i].status != st) continue;
        printf(shown++ ? " " : "                %-8s ", ch_names[st]);
        print_offset(r.list[i].off, a->cdims, a->rank);
      }
      size_t all = st == CH_ADDED ? r.added : st == CH_REMOVED ? r.removed : r.changed;
      if (shown && all > shown) printf(" and %zu more", all - shown);
      if (shown) putchar('\n');
    }
  }
  free_dsdiff(&r);
  return 1;
}

static void report_attr(ctx *c, const char *path, const char *name, const char *status,
                        const attr *x, const attr *y, const char *const *what, int nw) {
  if (c->j) {
    cli_json *j = c->j;
    cli_json_object(j, NULL);
    cli_json_str(j, "path", path);
    cli_json_str(j, "kind", "attribute");
    cli_json_str(j, "name", name);
    cli_json_str(j, "status", status);
    cli_json_array(j, "changes");
    for (int i = 0; i < nw; i++)
      cli_json_str(j, NULL, what[i]);
    cli_json_end(j);
    const attr *sides[2] = {x, y};
    const char *keys[2] = {"from", "to"};
    for (int s = 0; s < 2; s++) {
      if (!sides[s]) {
        cli_json_null(j, keys[s]);
        continue;
      }
      cli_json_object(j, keys[s]);
      cli_json_str(j, "dtype", sides[s]->dtype);
      cli_json_str(j, "shape", sides[s]->shape);
      json_aval(j, "value", &sides[s]->v);
      cli_json_end(j);
    }
    cli_json_end(j);
    return;
  }
  char m[2];
  mark(m, status);
  printf("%s %-10s %s @%s: ", m, "attribute", path, name);
  if (x) print_aval(&x->v);
  if (x && y) printf(" -> ");
  if (y) print_aval(&y->v);
  int typed = 0;
  for (int i = 0; i < nw; i++)
    typed |= strcmp(what[i], "value") != 0;
  if (typed)
    printf("  (%s %s%s%s %s)", x ? x->dtype : "", x ? x->shape : "", x && y ? " -> " : "",
           y ? y->dtype : "", y ? y->shape : "");
  putchar('\n');
}

/* The attributes of object `path`, present on both sides. 0, or -1 with
 * HDF5's error, -2 reported. */
static int diff_attrs(ctx *c, const char *path, counts *n) {
  hid_t oa = H5Oopen(c->a.file, path, H5P_DEFAULT),
        ob = oa < 0 ? -1 : H5Oopen(c->b.file, path, H5P_DEFAULT);
  names la = {NULL, 0, 0, 0}, lb = {NULL, 0, 0, 0};
  attr x, y;
  int rc = -1;
  if (oa < 0 || ob < 0) goto out;
  if (H5Aiterate2(oa, H5_INDEX_NAME, H5_ITER_INC, NULL, add_attr_name, &la) < 0 ||
      H5Aiterate2(ob, H5_INDEX_NAME, H5_ITER_INC, NULL, add_attr_name, &lb) < 0) {
    if (la.oom || lb.oom) rc = (cli_fail_code("H5TX_ENOMEM", "out of memory"), -2);
    goto out;
  }
  if (la.n) qsort(la.v, la.n, sizeof *la.v, cmp_str);
  if (lb.n) qsort(lb.v, lb.n, sizeof *lb.v, cmp_str);
  size_t i = 0, k = 0;
  while (i < la.n || k < lb.n) {
    int o = i >= la.n ? 1 : k >= lb.n ? -1 : strcmp(la.v[i], lb.v[k]);
    if (o < 0) {
      if (open_attr(oa, la.v[i], &x)) goto fail_x;
      report_attr(c, path, la.v[i], "removed", &x, NULL, NULL, 0);
      close_attr(&x);
      i++;
      n->attributes++;
      continue;
    }
    if (o > 0) {
      if (open_attr(ob, lb.v[k], &y)) goto fail_y;
      report_attr(c, path, lb.v[k], "added", NULL, &y, NULL, 0);
      close_attr(&y);
      k++;
      n->attributes++;
      continue;
    }
    if (open_attr(oa, la.v[i], &x)) goto fail_x;
    if (open_attr(ob, lb.v[k], &y)) {
      close_attr(&x);
      goto fail_y;
    }
    const char *what[3];
    int nw = 0;
    int dtype = H5Tequal(x.type, y.type) <= 0;
    int shape = strcmp(x.shape, y.shape) != 0;
    if (dtype) what[nw++] = "dtype";
    if (shape) what[nw++] = "shape";
    int d = dtype || shape ? 0 : attr_differs(&x, &y); /* values of other types: not compared */
    if (d > 0) what[nw++] = "value";
    if (d < 0) {
      close_attr(&x);
      close_attr(&y);
      goto out;
    }
    if (nw) {
      report_attr(c, path, la.v[i], "changed", &x, &y, what, nw);
      n->attributes++;
    }
    close_attr(&x);
    close_attr(&y);
    i++;
    k++;
  }
  rc = 0;
  goto out;
fail_x:
  close_attr(&x);
  goto out;
fail_y:
  close_attr(&y);
out:
  free_names(&la);
  free_names(&lb);
  if (oa >= 0) H5Oclose(oa);
  if (ob >= 0) H5Oclose(ob);
  return rc;
}

/* ---- the two files ------------------------------------------------------- */

static char where[4200]; /* the object being compared, for errors */

/* A dataset added or removed: report it with its description. */
static int report_one_side(ctx *c, const char *status, hid_t file, const obj *o) {
  dsinfo ds;
  int have = 0;
  if (o->kind == K_DATASET) {
    if (open_ds(file, o->path, &ds)) {
      close_ds(&ds);
      return -1;
    }
    have = 1;
  }
  report_object(c, status, o, have ? &ds : NULL, NULL);
  if (have) close_ds(&ds);
  return 0;
}

/* Compare the objects of both sides. 0, or -1 with HDF5's error, -2
 * reported. */
static int diff_files(ctx *c, counts *n) {
  objs oa = {NULL, 0, 0, 0}, ob = {NULL, 0, 0, 0};
  int rc = -1;
  snprintf(where, sizeof where, "/");
  if ((c->a.file >= 0 && list_objects(c->a.file, &oa)) ||
      (c->b.file >= 0 && list_objects(c->b.file, &ob))) {
    if (oa.oom || ob.oom) rc = (cli_fail_code("H5TX_ENOMEM", "out of memory"), -2);
    goto out;
  }
  size_t i = 0, k = 0;
  while (i < oa.n || k < ob.n) {
    int o = i >= oa.n ? 1 : k >= ob.n ? -1 : strcmp(oa.v[i].path, ob.v[k].path);
    const obj *x = o <= 0 ? &oa.v[i] : NULL, *y = o >= 0 ? &ob.v[k] : NULL;
    if (o <= 0) i++;
    if (o >= 0) k++;
    snprintf(where, sizeof where, "%s", x ? x->path : y->path);
    h5_reset();
    if (x && y && x->kind != y->kind) { /* another kind under the same name */
      if (report_one_side(c, "removed", c->a.file, x) || report_one_side(c, "added", c->b.file, y))
        goto out;
      n->objects++;
      continue;
    }
    if (!y || !x) {
      if (report_one_side(c, x ? "removed" : "added", x ? c->a.file : c->b.file, x ? x : y))
        goto out;
      n->objects++;
      continue;
    }
    if (x->kind == K_SOFT || x->kind == K_EXTERNAL || x->kind == K_OTHER) {
      if (strcmp(x->target ? x->target : "", y->target ? y->target : "") != 0) {
        report_object(c, "changed", y, NULL, x);
        n->objects++;
      }
      continue;
    }
    if (x->kind == K_DATASET) {
      dsinfo da, db;
      int ok = open_ds(c->a.file, x->path, &da) == 0 && open_ds(c->b.file, y->path, &db) == 0;
      int d = ok ? report_dataset(c, x->path, &da, &db) : -1;
      close_ds(&da);
      if (ok || db.d) close_ds(&db);
      if (d < 0) {
        rc = d;
        goto out;
      }
      n->objects += (size_t)d;
    } else if (x->kind == K_DATATYPE) {
      hid_t ta = H5Topen2(c->a.file, x->path, H5P_DEFAULT),
            tb = H5Topen2(c->b.file, y->path, H5P_DEFAULT);
      int eq = ta >= 0 && tb >= 0 ? H5Tequal(ta, tb) : -1;
      if (ta >= 0) H5Tclose(ta);
      if (tb >= 0) H5Tclose(tb);
      if (eq < 0) goto out;
      if (!eq) {
        report_object(c, "changed", y, NULL, NULL);
        n->objects++;
      }
    }
    if ((rc = diff_attrs(c, x->path, n))) goto out;
    rc = -1;
  }
  rc = 0;
out:
  free_objs(&oa);
  free_objs(&ob);
  return rc;
}

/* Open file t->name at `rev` through the driver; absent: sd->file < 0.
 * 0, or the exit code (reported). */
static int open_side(h5tx_store *s, const cli_target *t, h5tx_rev rev, side *sd) {
  sd->file = -1;
  sd->rev = rev;
  sd->base = 0;
  h5tx_snap *snap;
  h5tx_stat st;
  h5tx_error e = {0, ""};
  if (h5tx_snap_open(s, rev, &snap, &e)) return cli_fail_h5(&e);
  int rc = h5tx_snap_stat(snap, t->name, &st, &e);
  h5tx_snap_close(snap);
  if (rc == H5TX_ENOENT) return 0;
  if (rc) return cli_fail_h5(&e);
  char path[8400];
  snprintf(path, sizeof path, "%s/%s@%llu", t->store, t->name, (unsigned long long)rev);
  h5_reset();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_h5tx(fapl, "") < 0) {
    if (fapl >= 0) H5Pclose(fapl);
    return cli_fail("HDF5: cannot set up the h5tx driver: %s", h5_error());
  }
  sd->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (sd->file < 0)
    return cli_fail_code("not_hdf5", "%s is not an HDF5 file that HDF5 %d.%d.%d can open: %s", path,
                         H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE, h5_error());
  hid_t fcpl = H5Fget_create_plist(sd->file);
  if (fcpl >= 0) {
    H5Pget_userblock(fcpl, &sd->base);
    H5Pclose(fcpl);
  }
  h5_reset();
  return 0;
}

/* ---- the command --------------------------------------------------------- */

static const cli_cmd objdiff_cmd = {
    "diff --objects", NULL, "STORE.h5tx/NAME REV1 [REV2] [--json]",
    "list the HDF5 objects and attributes that changed between revisions",
    "Opens HDF5 file NAME at revisions REV1 and REV2 (default head) through\n"
    "the h5tx driver and lists, by path, the groups, datasets, named datatypes,\n"
    "links and attributes that were added (+), removed (-) or changed (~).\n"
    "For a dataset: dtype, shape, layout, filters, and whether its data\n"
    "changed; for a chunked one, the chunks (by index in the chunk grid)\n"
    "that were added, removed or whose stored bytes changed. Chunks are\n"
    "compared as stored, without decompressing, when both revisions have\n"
    "the same chunk shape, dtype and filters (a chunk at the same place in\n"
    "pages the store did not change is not even read); otherwise values are\n"
    "compared. Attributes show their values when small. A file absent at a\n"
    "revision has no objects there. Run by 'h5tx diff --objects'; the\n"
    "program is h5tx-diff-objects, built where HDF5 is found.\n\n"
    "Options:\n"
    "  --json   one JSON object: {store, file, from, to, from_exists,\n"
    "           to_exists, changes: [{path, kind, status, ...}], objects_changed,\n"
    "           attributes_changed}; see the README for every field\n"};

void cli_help(const cli_cmd *cmd, FILE *f) {
  fprintf(f, "Usage: h5tx %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->help);
  fprintf(f, "Exit status: 0 compared (differences or not), 1 failure, 2 usage.\n");
}

/* Let HDF5 find the zstd filter installed or built with this program
 * (needed only when values of filtered chunks are compared). */
static void add_plugin_dirs(void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return;
  *slash = 0;
  char dir[4200];
  /* First: HDF5 1.10 stops searching at a directory it cannot open (its
   * default one often does not exist). */
  snprintf(dir, sizeof dir, "%s/../lib/hdf5/plugins", exe); /* installed */
  if (access(dir, R_OK | X_OK) == 0) H5PLprepend(dir);
  snprintf(dir, sizeof dir, "%s/../filters", exe); /* a build tree */
  if (access(dir, R_OK | X_OK) == 0) H5PLprepend(dir);
  h5_reset();
}

static int finish(int rc) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    cli_fail("writing output: %s", strerror(errno ? errno : EIO));
    rc = rc ? rc : CLI_FAIL;
  }
  return cli_json_errors_end(rc);
}

int main(int argc, char **argv) {
  H5Eset_auto2(H5E_DEFAULT, on_h5_error, NULL);
  int want_json = 0;
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--json") == 0) want_json = 1;
  if (want_json) cli_json_errors_begin();
  const cli_cmd *cmd = &objdiff_cmd;
  cli_args a;
  int rc = cli_parse(cmd, cli_json_opts, 2, 3, argc, argv, &a);
  if (rc >= 0) return finish(rc);
  cli_target t;
  if ((rc = cli_target_parse(cmd, a.pos[0], CLI_T_NAME, &t))) return finish(rc);
  add_plugin_dirs();
  h5tx_store *s = NULL;
  ctx c;
  memset(&c, 0, sizeof c);
  c.a.file = c.b.file = -1;
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = NULL;
  h5tx_rev ra, rb;
  if ((rc = cli_open(t.store, 0, &s)) || (rc = cli_rev(s, a.pos[1], &ra)) ||
      (rc = cli_rev(s, a.npos > 2 ? a.pos[2] : NULL, &rb)))
    goto out;
  if ((rc = open_side(s, &t, ra, &c.a)) || (rc = open_side(s, &t, rb, &c.b))) goto out;
  if (c.a.file < 0 && c.b.file < 0) {
    rc = cli_fail_code("H5TX_ENOENT", "store %s: no file '%s' at revision %llu nor at %llu",
                       t.store, t.name, (unsigned long long)ra, (unsigned long long)rb);
    goto out;
  }
  if (c.a.file >= 0 && c.b.file >= 0) {
    h5tx_error e = {0, ""};
    c.have_runs = h5tx_diff(s, t.name, ra, rb, add_run, &c, &e) == 0;
  }
  /* JSON is built in memory and printed whole: an error midway prints only
   * the error. */
  cli_json j;
  if (want_json) {
    if (!(mem = open_memstream(&buf, &len))) {
      rc = cli_fail("out of memory");
      goto out;
    }
    cli_json_init(&j, mem);
    cli_json_object(&j, NULL);
    cli_json_str(&j, "store", t.store);
    cli_json_str(&j, "file", t.name);
    cli_json_u64(&j, "from", ra);
    cli_json_u64(&j, "to", rb);
    cli_json_bool(&j, "from_exists", c.a.file >= 0);
    cli_json_bool(&j, "to_exists", c.b.file >= 0);
    cli_json_array(&j, "changes");
    c.j = &j;
  } else {
    printf("%s/%s: revision %llu -> %llu%s%s\n", t.store, t.name, (unsigned long long)ra,
           (unsigned long long)rb, c.a.file < 0 ? " (absent at the first)" : "",
           c.b.file < 0 ? " (absent at the second)" : "");
  }
  counts n = {0, 0};
  int d = diff_files(&c, &n);
  if (d < 0) {
    /* A filter HDF5 could not load: say where plugins are looked for. */
    const char *hint = strstr(h5_error(), "is not registered")
                           ? "; HDF5 loads filter plugins from the directories in "
                             "HDF5_PLUGIN_PATH"
                           : "";
    rc = d == -1
             ? cli_fail("comparing %s in %s/%s at revisions %llu and %llu: %s%s", where, t.store,
                        t.name, (unsigned long long)ra, (unsigned long long)rb, h5_error(), hint)
             : CLI_FAIL;
    goto out;
  }
  if (want_json) {
    cli_json_end(&j);
    cli_json_u64(&j, "objects_changed", n.objects);
    cli_json_u64(&j, "attributes_changed", n.attributes);
    cli_json_end(&j);
    fclose(mem);
    mem = NULL;
    fwrite(buf, 1, len, stdout);
  } else if (n.objects + n.attributes == 0) {
    printf("no differences\n");
  } else {
    printf("%zu object%s and %zu attribute%s differ\n", n.objects, n.objects == 1 ? "" : "s",
           n.attributes, n.attributes == 1 ? "" : "s");
  }
  rc = CLI_OK;
out:
  if (mem) fclose(mem);
  free(buf);
  free(c.runs);
  if (c.a.file >= 0) H5Fclose(c.a.file);
  if (c.b.file >= 0) H5Fclose(c.b.file);
  h5tx_store_close(s);
  cli_target_free(&t);
  return finish(rc);
}
