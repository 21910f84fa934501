// sluice-avro-client: what `sluice avro-client` and `flume-ng avro-client` run. Its own program,
// so that the agent binary links no Avro RPC client code (see avro_client.hpp).
#include "core/cli/avro_client/avro_client.hpp"

int main(int argc, char** argv) { return sluice::core::cli::runAvroClient(argc, argv); }
