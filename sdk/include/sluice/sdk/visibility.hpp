#pragma once
// Every SDK type is used on both sides of the plugin boundary (host executable and plugin .so).
// Default visibility keeps typeinfo and vtables unique across them even when a plugin is built
// with -fvisibility=hidden.
#define SLUICE_SDK_API [[gnu::visibility("default")]]
