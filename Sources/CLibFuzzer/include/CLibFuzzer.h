#ifndef ADLOAD_CLIBFUZZER_H
#define ADLOAD_CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt), for a fuzz executable whose `main` is its own: runs
/// the fuzzing loop over `callback` with libFuzzer's command-line flags.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
