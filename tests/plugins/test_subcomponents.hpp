#pragma once
// The test plugin library's sub-components (test_subcomponents.cpp), listed in its manifest.

#include "sluice/sdk/plugin.hpp"

namespace sluice::tests {

sdk::ComponentInfo upperSerializerComponent();
sdk::ComponentInfo csvHandlerComponent();

}  // namespace sluice::tests
