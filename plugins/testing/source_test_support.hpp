#pragma once
// Helpers for source unit tests: the fake ChannelProcessor, the capturing logger and the
// condition wait, each defined once in its own header.

#include "capture_logger.hpp"
#include "recording_processor.hpp"
#include "wait.hpp"
