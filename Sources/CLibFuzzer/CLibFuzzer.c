// The header declares libFuzzer's driver; compiler-rt defines it.
