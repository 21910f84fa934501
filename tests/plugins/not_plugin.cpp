// An ordinary shared library with no sluice descriptor.
extern "C" int notAPlugin() { return 42; }
