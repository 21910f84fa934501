// Flume's Thrift RPC protocol (flume-ng-sdk/src/main/thrift/flume.thrift), which Flume's
// ThriftSource serves and its ThriftSink and ThriftRpcClient call: the same structs, field ids,
// enum values and method names, so the bytes on the wire are Flume's. Only namespaces are added:
// they name the generated code and change nothing on the wire.
//
// sluice's build generates C++ from this file with Debian's thrift-compiler (meson.build next to
// it); the tests generate a Python client and server from it (tests/support/thrift_peer.py).

namespace java org.apache.flume.thrift
namespace cpp sluice.plugins.thrift.gen

struct ThriftFlumeEvent {
  1: required map <string, string> headers,
  2: required binary body,
}

enum Status {
  OK,
  FAILED,
  ERROR,
  UNKNOWN
}

service ThriftSourceProtocol {
  Status append(1: ThriftFlumeEvent event),
  Status appendBatch(1: list<ThriftFlumeEvent> events),
}
