// Not a command: a library module exporting `add` and no `_start` (refused at create).
__attribute__((export_name("add"))) int add(int a, int b) { return a + b; }
