// A command that imports a function outside WASI preview 1 (refused at create).
__attribute__((import_module("env"), import_name("launch_missiles"))) int launch_missiles(int);

int main(void) { return launch_missiles(1); }
