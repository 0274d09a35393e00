/* cli_stubs.h - what a harness around tools/util.c supplies in place of the
 * rest of the h5tx command: cli_help() (main.c), a command to report usage
 * errors for, and a quiet stderr (util.c reports every rejected input; the
 * sanitizers still write their reports to file descriptor 2). */
#ifndef H5TX_FUZZ_CLI_STUBS_H
#define H5TX_FUZZ_CLI_STUBS_H

#include "cli.h"

void cli_help(const cli_cmd *cmd, FILE *f) {
  (void)cmd;
  (void)f;
}

static const cli_cmd fuzz_cmd = {"fuzz", NULL, "STORE.h5tx[/NAME][@REV]", "fuzzing", "help"};

/* Call from LLVMFuzzerInitialize(). */
static void fuzz_quiet_stderr(void) {
  FILE *null = fopen("/dev/null", "w");
  if (null) stderr = null;
}

#endif
