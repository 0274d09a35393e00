#!/usr/bin/env bash
# (h5tx: a copy of the shared harness ../shared/hdf5-testsuite.sh, so CI runs
# from a fresh clone; tests/hdf5suite/run_suite.sh drives it with the build
# trees of cmake/build-hdf5-1.14.sh -t, for HDF5 1.14.5 and 1.14.6.)
# hdf5-testsuite.sh - run HDF5 1.14.5's own C test programs against a VFD that is
# chosen only through the environment (HDF5_DRIVER / HDF5_DRIVER_CONFIG /
# HDF5_PLUGIN_PATH), e.g. a dynamically loaded plugin VFD such as "h5tx".
#
# Usage:
#   hdf5-testsuite.sh [options] BUILD_DIR PLUGIN_DIR DRIVER [CONFIG]
#
#   BUILD_DIR   HDF5 CMake build tree configured with tests (has bin/testhdf5,
#               test/H5TEST/testfiles).  If it does not exist (or is empty) HDF5
#               1.14.5 is fetched/unpacked and built there with tests (~3 min on 2 cores).
#               Note: 'make install' does not install test programs, so this must be
#               the build tree, not the install prefix.
#   PLUGIN_DIR  directory exported as HDF5_PLUGIN_PATH ('' or '-' = leave unset)
#   DRIVER      exported as HDF5_DRIVER: sec2, core, stdio, family, split, multi, log,
#               splitter ... or the name of a plugin VFD (e.g. h5tx)
#   CONFIG      exported as HDF5_DRIVER_CONFIG when non-empty (otherwise unset)
#
# Options:
#   -t LIST   tests to run, space separated ("dsets links testhdf5@file,attr,misc");
#             PROG@a,b runs "PROG -o a -o b" (testhdf5 sub-tests).  Presets: "vfd"
#             (default, close to HDF5's own CMake HDF5_TEST_VFD list), "quick".
#   -T SEC    per-program timeout (default 300)
#   -e LEVEL  export HDF5TestExpress=LEVEL (0 exhaustive .. 3 smoke; the build's
#             compiled-in default is 3)
#   -l DIR    keep per-program logs in DIR (default: a fresh mktemp dir, printed)
#   -k        keep each program's temporary working directory
#   -v        after a failing program, print the last 15 lines of its log
#   -S DIR    HDF5 source tree to build from (default /tmp/hdf5src/hdf5-1.14.5+repack,
#             fetched with apt-get source when missing)
#   -I DIR    install prefix used when building (default /tmp/hdf5-114t)
#   -j N      make parallelism when building (default 2)
#   -R DIR    build the reference pass-through plugin "ptsec2" (sec2 underneath;
#             CONFIG = directory into which relative names are mapped) into DIR
#             and exit.  Run the suite with DRIVER=ptsec2 to see which failures
#             any env-selected plugin VFD gets from the harness itself.
#
# Output: one line per program "NAME STATUS SECONDS" (STATUS = PASS, FAIL(rc),
# TIMEOUT, MISSING), then a final "N passed, M failed" line (timeouts and missing
# programs count as failed).  Exit status 0 only if nothing failed.
#
# How the driver reaches the tests: the library itself makes HDF5_DRIVER (+
# HDF5_DRIVER_CONFIG) the default VFD of H5P_DEFAULT / H5P_FILE_ACCESS, loading
# plugins from HDF5_PLUGIN_PATH.  The test harness (test/h5test.c,
# h5_fileaccess -> h5_get_vfd_fapl) re-applies HDF5_DRIVER but only knows the
# built-in names and FAILS for any other name (every test then dies at once).
# For a non-built-in DRIVER this script therefore LD_PRELOADs a tiny shim that
# overrides h5_get_vfd_fapl() for unknown names with
# H5Pset_driver_by_name(fapl, DRIVER, $HDF5_DRIVER_CONFIG) and defers to the
# original for built-in names.  HDF5's sources and binaries are not modified.
#
# Files: tests run in a fresh cwd and name their files with plain relative names
# from h5_fixname() ("extend.h5", "chunk_fast.h5"; HDF5_PREFIX is unset here);
# pre-generated inputs are opened through the VFD by absolute path
# ($srcdir/testfiles/*.h5, srcdir=BUILD_DIR/test/H5TEST); links/vds/external
# also use relative names with sub-directories.
#
# Measured baselines (1.14.5, default express level 3, 2 cores):
#   sec2, core: 64/64 pass (~2.5 min each).  ptsec2 (-R), no CONFIG: 64/64.
#   ptsec2 with CONFIG=<store dir>: 48/64 - the harness itself stat()s/opens the
#   plain name in cwd (h5_get_file_size, HDopen, HDaccess), so any VFD that maps
#   names elsewhere fails: testhdf5 btree2 farray earray fheap ohdr stab dtypes
#   dsets chunk_info external links unlink dangle freespace mf.
# Gated on the driver NAME: cache, cache_tagging, onion skip unless "sec2";
# big runs only for sec2/stdio/family; swmr and the SWMR parts of cork/flush*
# run only for sec2/log.  A VFD that stores files elsewhere must not claim
# H5FD_FEAT_POSIX_COMPAT_HANDLE (the library lstat()s the caller's name).
set -u

SCRIPT_NAME=$(basename "$0")
TESTS_OPT="vfd"
TIMEOUT=300
EXPRESS=""
LOGDIR=""
KEEP=0
VERBOSE=0
SRC_DIR=/tmp/hdf5src/hdf5-1.14.5+repack
PREFIX=/tmp/hdf5-114t
JOBS=2
REFPLUGIN_DIR=""

PRESET_VFD="testhdf5 cache cache_api cache_tagging btree2 farray earray fheap objcopy_ref objcopy
 lheap ohdr stab gheap evict_on_close hyperslab istore bittests dt_arith page_buffer dtypes dsets
 select_io_dset chunk_info cmpd_dset mdset filter_fail extend direct_chunk external efc links unlink
 twriteorder big mtime fillval mount flush1 flush2 app_ref enum set_extent getname ntypes dangle
 dtransform cross_read freespace mf vds file_image unregister cache_logging cork swmr vol timer
 cmpd_dtransform event_set onion enc_dec_plist enc_dec_plist_cross_platform accum"
PRESET_QUICK="testhdf5 extend fillval mf cache_api links objcopy unlink stab ohdr gheap istore
 mount getname dangle btree2 farray earray mdset dtypes flush1 flush2 swmr"

BUILTIN_DRIVERS=" sec2 stdio core core_paged split multi family log direct splitter onion subfiling mpio mirror hdfs ros3 "

usage() { sed -n '2,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while getopts "t:T:e:l:kvS:I:j:R:h" opt; do
    case $opt in
        t) TESTS_OPT=$OPTARG ;;
        T) TIMEOUT=$OPTARG ;;
        e) EXPRESS=$OPTARG ;;
        l) LOGDIR=$OPTARG ;;
        k) KEEP=1 ;;
        v) VERBOSE=1 ;;
        S) SRC_DIR=$OPTARG ;;
        I) PREFIX=$OPTARG ;;
        j) JOBS=$OPTARG ;;
        R) REFPLUGIN_DIR=$OPTARG ;;
        h) usage 0 ;;
        *) usage 2 ;;
    esac
done
shift $((OPTIND - 1))

die() { echo "$SCRIPT_NAME: $*" >&2; exit 2; }

# ---------------------------------------------------------------------------
# Building HDF5 with tests (only when BUILD_DIR is missing/empty)
# ---------------------------------------------------------------------------
CMAKE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_TESTING=ON
    -DHDF5_BUILD_TOOLS=ON
    -DHDF5_BUILD_FORTRAN=OFF -DHDF5_BUILD_CPP_LIB=OFF -DHDF5_BUILD_JAVA=OFF
    -DHDF5_BUILD_EXAMPLES=OFF
    -DBUILD_SHARED_LIBS=ON -DBUILD_STATIC_LIBS=OFF
    -DHDF5_ENABLE_Z_LIB_SUPPORT=ON -DHDF5_ENABLE_SZIP_SUPPORT=OFF
)

ensure_tools() {
    local missing=()
    command -v cmake >/dev/null || missing+=(cmake)
    command -v make >/dev/null || missing+=(make)
    command -v gcc >/dev/null || missing+=(gcc)
    [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "# installing ${missing[*]}" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
            die "cannot install ${missing[*]}"
    fi
}

fetch_source() {
    # SRC_DIR is expected to be <dir>/hdf5-1.14.5+repack
    local parent
    parent=$(dirname "$SRC_DIR")
    mkdir -p "$parent" || die "cannot create $parent"
    if [ ! -f "$parent/hdf5_1.14.5+repack.orig.tar.gz" ]; then
        local have_src=0 f
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && grep -qs "trixie" "$f" && grep -qs "deb-src" "$f" && have_src=1
        done
        if [ $have_src -eq 0 ]; then
            cat > /etc/apt/sources.list.d/hdf5-trixie-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        fi
        echo "# fetching hdf5=1.14.5+repack-3 source into $parent" >&2
        apt-get update -qq >&2 || true
        (cd "$parent" && apt-get source --download-only hdf5=1.14.5+repack-3 >&2) ||
            die "apt-get source hdf5=1.14.5+repack-3 failed"
    fi
    echo "# unpacking $parent/hdf5_1.14.5+repack.orig.tar.gz (upstream sources, no Debian patches)" >&2
    (cd "$parent" && tar xzf hdf5_1.14.5+repack.orig.tar.gz) || die "unpack failed"
    [ -f "$SRC_DIR/CMakeLists.txt" ] || die "no CMakeLists.txt in $SRC_DIR after unpacking"
}

build_hdf5() {
    local bdir=$1 t0 t1 t2
    ensure_tools
    [ -f "$SRC_DIR/CMakeLists.txt" ] || fetch_source
    mkdir -p "$bdir" || die "cannot create $bdir"
    echo "# building HDF5 with tests: $SRC_DIR -> $bdir (logs: $bdir/build-*.log)" >&2
    t0=$(date +%s)
    (cd "$bdir" && cmake "$SRC_DIR" "${CMAKE_FLAGS[@]}" -DCMAKE_INSTALL_PREFIX="$PREFIX" \
        > "$bdir/build-configure.log" 2>&1) || die "cmake configure failed, see $bdir/build-configure.log"
    t1=$(date +%s)
    (cd "$bdir" && make -j"$JOBS" > "$bdir/build-make.log" 2>&1) || die "make failed, see $bdir/build-make.log"
    t2=$(date +%s)
    (cd "$bdir" && make install > "$bdir/build-install.log" 2>&1) || echo "# warning: make install failed" >&2
    echo "# configure $((t1 - t0)) s, build $((t2 - t1)) s" >&2
}

hdf5_include_flags() {
    # hdf5.h lives in the source tree's src/, H5pubconf.h in the build tree's src/
    local bdir=$1 src
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$bdir/CMakeCache.txt" 2>/dev/null)
    [ -n "$src" ] || src=$SRC_DIR
    echo "-I$src/src -I$src/src/H5FDsubfiling -I$bdir/src"
}

# ---------------------------------------------------------------------------
# Reference pass-through plugin (ptsec2)
# ---------------------------------------------------------------------------
build_ref_plugin() {
    local bdir=$1 out=$2 tmpc
    mkdir -p "$out" || die "cannot create $out"
    tmpc=$(mktemp --suffix=.c)
    cat > "$tmpc" <<'EOF'
/* ptsec2: pass-through VFD plugin over sec2.  Config string: empty -> file names
 * used as given; otherwise a directory into which relative names are mapped.
 * PTSEC2_TRACE=<file> appends "open NAME -> PATH" lines. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/types.h>
#include "hdf5.h"
#include "H5FDdevelop.h"
#include "H5PLextern.h"
typedef struct { H5FD_t pub; H5FD_t *inner; int mapped; } pt_t;
static char *pt_map(const char *name, hid_t fapl_id)
{
    char *cfg = NULL, *out;
    ssize_t n = (fapl_id >= 0) ? H5Pget_driver_config_str(fapl_id, NULL, 0) : -1;
    if (n > 0) { cfg = calloc(1, (size_t)n + 1); H5Pget_driver_config_str(fapl_id, cfg, (size_t)n + 1); }
    if (cfg && *cfg && name[0] != '/') { out = malloc(strlen(cfg) + strlen(name) + 2); sprintf(out, "%s/%s", cfg, name); }
    else out = strdup(name);
    free(cfg);
    return out;
}
static hid_t pt_sec2_fapl(void)
{
    hid_t f = H5Pcreate(H5P_FILE_ACCESS);
    if (f >= 0 && H5Pset_fapl_sec2(f) < 0) { H5Pclose(f); f = H5I_INVALID_HID; }
    return f;
}
static H5FD_t *pt_open(const char *name, unsigned flags, hid_t fapl_id, haddr_t maxaddr)
{
    pt_t *f; char *path = pt_map(name, fapl_id); hid_t sf = pt_sec2_fapl();
    int mapped = strcmp(path, name) != 0;
    H5FD_t *in = (sf >= 0) ? H5FDopen(path, flags, sf, maxaddr) : NULL;
    const char *tr = getenv("PTSEC2_TRACE");
    if (sf >= 0) H5Pclose(sf);
    if (tr && *tr) { FILE *fp = fopen(tr, "a"); if (fp) { fprintf(fp, "open %s -> %s\n", name, path); fclose(fp); } }
    free(path);
    if (!in) return NULL;
    f = calloc(1, sizeof(*f)); f->inner = in; f->mapped = mapped;
    return &f->pub;
}
static herr_t pt_close(H5FD_t *_f) { pt_t *f = (pt_t *)_f; herr_t r = H5FDclose(f->inner); free(f); return r; }
static int pt_cmp(const H5FD_t *a, const H5FD_t *b) { return H5FDcmp(((const pt_t *)a)->inner, ((const pt_t *)b)->inner); }
static herr_t pt_query(const H5FD_t *f, unsigned long *flags)
{
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_SUPPORTS_SWMR_IO | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    /* POSIX_COMPAT_HANDLE makes the library lstat() the caller's file name
     * (H5F__build_actual_name): only claim it when the name is the real path. */
    if (!f || !((const pt_t *)f)->mapped) *flags |= H5FD_FEAT_POSIX_COMPAT_HANDLE;
    return 0;
}
static haddr_t pt_get_eoa(const H5FD_t *f, H5FD_mem_t t) { return H5FDget_eoa(((const pt_t *)f)->inner, t); }
static herr_t pt_set_eoa(H5FD_t *f, H5FD_mem_t t, haddr_t a) { return H5FDset_eoa(((pt_t *)f)->inner, t, a); }
static haddr_t pt_get_eof(const H5FD_t *f, H5FD_mem_t t) { return H5FDget_eof(((const pt_t *)f)->inner, t); }
static herr_t pt_get_handle(H5FD_t *f, hid_t fapl, void **h) { return H5FDget_vfd_handle(((pt_t *)f)->inner, fapl, h); }
static herr_t pt_read(H5FD_t *f, H5FD_mem_t t, hid_t d, haddr_t a, size_t s, void *b) { return H5FDread(((pt_t *)f)->inner, t, d, a, s, b); }
static herr_t pt_write(H5FD_t *f, H5FD_mem_t t, hid_t d, haddr_t a, size_t s, const void *b) { return H5FDwrite(((pt_t *)f)->inner, t, d, a, s, b); }
static herr_t pt_flush(H5FD_t *f, hid_t d, hbool_t c) { return H5FDflush(((pt_t *)f)->inner, d, c); }
static herr_t pt_truncate(H5FD_t *f, hid_t d, hbool_t c) { return H5FDtruncate(((pt_t *)f)->inner, d, c); }
static herr_t pt_lock(H5FD_t *f, hbool_t rw) { return H5FDlock(((pt_t *)f)->inner, rw); }
static herr_t pt_unlock(H5FD_t *f) { return H5FDunlock(((pt_t *)f)->inner); }
static herr_t pt_del(const char *name, hid_t fapl_id)
{
    char *path = pt_map(name, fapl_id); hid_t sf = pt_sec2_fapl();
    herr_t r = (sf >= 0) ? H5FDdelete(path, sf) : -1;
    if (sf >= 0) H5Pclose(sf);
    free(path);
    return r;
}
static herr_t pt_ctl(H5FD_t *f, uint64_t op, uint64_t fl, const void *in, void **out) { return H5FDctl(((pt_t *)f)->inner, op, fl, in, out); }
static const H5FD_class_t pt_class = {
    H5FD_CLASS_VERSION, (H5FD_class_value_t)333, "ptsec2", (((haddr_t)1 << (8 * sizeof(off_t) - 1)) - 1),
    H5F_CLOSE_WEAK, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL,
    pt_open, pt_close, pt_cmp, pt_query, NULL, NULL, NULL, pt_get_eoa, pt_set_eoa, pt_get_eof,
    pt_get_handle, pt_read, pt_write, NULL, NULL, NULL, NULL, pt_flush, pt_truncate, pt_lock,
    pt_unlock, pt_del, pt_ctl, H5FD_FLMAP_DICHOTOMY};
H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_VFD; }
const void *H5PLget_plugin_info(void) { return &pt_class; }
EOF
    # shellcheck disable=SC2046
    gcc -O2 -fPIC -shared $(hdf5_include_flags "$bdir") "$tmpc" -o "$out/libptsec2.so" \
        -L"$bdir/bin" -lhdf5 -Wl,-rpath,"$bdir/bin" || { rm -f "$tmpc"; die "building ptsec2 failed"; }
    rm -f "$tmpc"
    echo "built $out/libptsec2.so (use: $SCRIPT_NAME BUILD_DIR $out ptsec2 [STORE_DIR])"
}

# ---------------------------------------------------------------------------
# h5_get_vfd_fapl() override for plugin drivers
# ---------------------------------------------------------------------------
build_shim() {
    local out=$1 tmpc
    tmpc=$(mktemp --suffix=.c)
    cat > "$tmpc" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
typedef int64_t hid_t; /* HDF5 1.10+ */
typedef int herr_t;
extern herr_t H5Pset_driver_by_name(hid_t plist_id, const char *driver_name, const char *driver_config);
static const char *const builtin[] = {"sec2", "stdio", "core", "core_paged", "split", "multi", "family",
    "log", "direct", "splitter", "onion", "subfiling", "mpio", "mirror", "hdfs", "ros3", NULL};
herr_t h5_get_vfd_fapl(hid_t fapl)
{
    const char *env = getenv("HDF5_DRIVER");
    if (!env) env = getenv("HDF5_TEST_DRIVER");
    if (env && *env) {
        char name[256];
        size_t skip = strspn(env, " \t\n\r"), n = strcspn(env + skip, " \t\n\r");
        int known = 0;
        if (n > 0 && n < sizeof name) {
            memcpy(name, env + skip, n);
            name[n] = '\0';
            for (int i = 0; builtin[i]; i++)
                if (!strcmp(name, builtin[i])) known = 1;
            if (!known) {
                const char *cfg = getenv("HDF5_DRIVER_CONFIG");
                return H5Pset_driver_by_name(fapl, name, (cfg && *cfg) ? cfg : NULL) < 0 ? -1 : 0;
            }
        }
    }
    herr_t (*real)(hid_t) = (herr_t(*)(hid_t))dlsym(RTLD_NEXT, "h5_get_vfd_fapl");
    return real ? real(fapl) : -1;
}
EOF
    gcc -O2 -fPIC -shared "$tmpc" -o "$out" -ldl || { rm -f "$tmpc"; die "building the h5_get_vfd_fapl shim failed (need gcc)"; }
    rm -f "$tmpc"
}

# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------
if [ -n "$REFPLUGIN_DIR" ]; then
    [ $# -ge 1 ] || die "-R needs BUILD_DIR"
    BUILD=$(realpath -m "$1")
    if [ ! -x "$BUILD/bin/testhdf5" ]; then
        if [ -d "$BUILD" ] && [ -n "$(ls -A "$BUILD" 2>/dev/null)" ]; then die "$BUILD is not an HDF5 build tree with tests"; fi
        build_hdf5 "$BUILD"
    fi
    build_ref_plugin "$BUILD" "$(realpath -m "$REFPLUGIN_DIR")"
    exit 0
fi

[ $# -ge 3 ] && [ $# -le 4 ] || usage 2
BUILD=$(realpath -m "$1")
PLUGIN_DIR=$2
DRIVER=$3
CONFIG=${4:-}
[ "$PLUGIN_DIR" = "-" ] && PLUGIN_DIR=""
[ -n "$PLUGIN_DIR" ] && PLUGIN_DIR=$(realpath -m "$PLUGIN_DIR")
[ -n "$DRIVER" ] || die "DRIVER must not be empty"

if [ ! -x "$BUILD/bin/testhdf5" ]; then
    if [ -d "$BUILD" ] && [ -n "$(ls -A "$BUILD" 2>/dev/null)" ]; then
        die "$BUILD exists but has no bin/testhdf5: give the CMake build tree (tests are not installed), or a missing/empty dir to build into"
    fi
    build_hdf5 "$BUILD"
fi
[ -x "$BUILD/bin/testhdf5" ] || die "no $BUILD/bin/testhdf5 after build"

SRCDIR_ENV="$BUILD/test/H5TEST"
[ -d "$SRCDIR_ENV/testfiles" ] || SRCDIR_ENV="$BUILD/test"

case "$TESTS_OPT" in
    vfd) TESTS=$PRESET_VFD ;;
    quick) TESTS=$PRESET_QUICK ;;
    *) TESTS=$TESTS_OPT ;;
esac

[ -n "$LOGDIR" ] || LOGDIR=$(mktemp -d /tmp/hdf5-testsuite-logs.XXXXXX)
mkdir -p "$LOGDIR" || die "cannot create $LOGDIR"
LOGDIR=$(realpath "$LOGDIR")
WORKROOT=$(mktemp -d /tmp/hdf5-testsuite-work.XXXXXX)

PRELOAD=""
case "$BUILTIN_DRIVERS" in
    *" $DRIVER "*) ;;
    *)
        PRELOAD="$WORKROOT/libh5test_vfd_shim.so"
        build_shim "$PRELOAD"
        ;;
esac

echo "# HDF5 test suite: driver=$DRIVER config='${CONFIG}' plugin_path='${PLUGIN_DIR}' build=$BUILD"
echo "# express=${EXPRESS:-build default} timeout=${TIMEOUT}s logs=$LOGDIR${PRELOAD:+ shim=h5_get_vfd_fapl override}"

npass=0
nfail=0
failed_names=()
flush1_dir=""

for spec in $TESTS; do
    prog=${spec%%@*}
    args=()
    if [ "$spec" != "$prog" ]; then
        IFS=',' read -r -a subs <<< "${spec#*@}"
        for s in "${subs[@]}"; do args+=(-o "$s"); done
    fi
    name=$spec
    logf="$LOGDIR/$(echo "$spec" | tr '@,/' '___').log"
    exe="$BUILD/bin/$prog"
    if [ ! -x "$exe" ]; then
        printf "%-28s %-10s %7s\n" "$name" "MISSING" "-"
        nfail=$((nfail + 1)); failed_names+=("$name")
        continue
    fi

    # flush2 reads the files flush1 left behind: run it in flush1's directory
    if [ "$prog" = "flush2" ] && [ -n "$flush1_dir" ] && [ -d "$flush1_dir" ]; then
        wdir=$flush1_dir
    else
        wdir=$(mktemp -d "$WORKROOT/$prog.XXXXXX")
    fi
    # accum forks ./accum_swmr_reader
    if [ "$prog" = "accum" ]; then
        for r in "$BUILD/bin/accum_swmr_reader" "$BUILD/test/H5TEST/accum_swmr_reader"; do
            [ -x "$r" ] && { ln -sf "$r" "$wdir/accum_swmr_reader"; break; }
        done
    fi

    t0=$(date +%s.%N)
    (
        cd "$wdir" || exit 99
        unset HDF5_DRIVER HDF5_TEST_DRIVER HDF5_DRIVER_CONFIG HDF5_PREFIX HDF5_NOCLEANUP
        export HDF5_DRIVER="$DRIVER"
        [ -n "$CONFIG" ] && export HDF5_DRIVER_CONFIG="$CONFIG"
        if [ -n "$PLUGIN_DIR" ]; then export HDF5_PLUGIN_PATH="$PLUGIN_DIR"; else unset HDF5_PLUGIN_PATH; fi
        [ -n "$EXPRESS" ] && export HDF5TestExpress="$EXPRESS"
        [ -n "$PRELOAD" ] && export LD_PRELOAD="$PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}"
        export srcdir="$SRCDIR_ENV"
        timeout -k 10 "$TIMEOUT" "$exe" "${args[@]}"
        exit $?
    ) > "$logf" 2>&1 < /dev/null
    rc=$?
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

    if [ $rc -eq 0 ]; then
        status=PASS; npass=$((npass + 1))
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        status=TIMEOUT; nfail=$((nfail + 1)); failed_names+=("$name")
    else
        status="FAIL($rc)"; nfail=$((nfail + 1)); failed_names+=("$name")
    fi
    printf "%-28s %-10s %7ss\n" "$name" "$status" "$secs"
    if [ $VERBOSE -eq 1 ] && [ "$status" != PASS ]; then
        tail -n 15 "$logf" | sed 's/^/    | /'
    fi

    if [ "$prog" = "flush1" ]; then
        flush1_dir=$wdir
    elif [ $KEEP -eq 0 ] && [ "$wdir" != "$flush1_dir" ]; then
        rm -rf "$wdir"
    fi
    if [ "$prog" = "flush2" ] && [ $KEEP -eq 0 ] && [ -n "$flush1_dir" ]; then
        rm -rf "$flush1_dir"; flush1_dir=""
    fi
done

[ $KEEP -eq 0 ] && rm -rf "$WORKROOT"
[ $KEEP -eq 1 ] && echo "# work dirs kept under $WORKROOT"
[ ${#failed_names[@]} -gt 0 ] && echo "# failed: ${failed_names[*]} (logs in $LOGDIR)"
echo "$npass passed, $nfail failed"
[ $nfail -eq 0 ]
