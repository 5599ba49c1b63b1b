// Sanitizer builds only (-DSMOLVK_SANITIZE=ON): shared libraries are never unloaded.
//
// The Vulkan loader unloads the driver, its LLVM and the layers in vkDestroyInstance. What
// those libraries keep until exit then shows in LeakSanitizer's report as "<unknown module>",
// which no suppression can match, so every test that touches Vulkan would fail on the
// driver's own allocations. With the libraries kept, the report names them and
// .ci/lsan.supp suppresses exactly those; leaks in smolvk's code are still reported.
// Defined in the executable, this dlclose wins over libc's for every caller.
int dlclose(void* handle) {
  (void)handle;
  return 0;
}
