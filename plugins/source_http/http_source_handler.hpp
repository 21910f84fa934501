#pragma once
// The http source's handlers are the SDK's HttpHandler kind (sluice/sdk/http_handler.hpp): the
// built-in JSONHandler and BlobHandler implement it here, and a plugin library may add others.
// These names keep the source's code short.

#include "sluice/sdk/http_handler.hpp"

namespace sluice::plugins::http_source {

using HttpHeaderView = sdk::HttpHeaderView;
using HttpSourceRequest = sdk::HttpSourceRequest;
using HandlerResult = sdk::HttpHandlerResult;
using HttpSourceHandler = sdk::HttpSourceHandler;

}  // namespace sluice::plugins::http_source
