#pragma once
// `sluice avro-client` (and `flume-ng avro-client`): Flume's AvroCLIClient. Sends the lines of a
// file (-F), of standard input, or of every file of a spooling directory (--dirname) as events
// to an avro source, in appendBatch calls of 5 events (Flume's batch), each event with the
// headers of the header file (-R, a Java properties file).
//
//   sluice avro-client -H host -p port [-F file | --dirname dir] [-R headerFile]
//   sluice avro-client -P rpc.properties ...   (hosts, hosts.<h>, batch-size, connect-timeout,
//                                               request-timeout of Flume's RPC client properties)
//
// As Flume: a line of -F or standard input ends at \n, \r or \r\n (BufferedReader.readLine);
// --dirname reads every file that is not hidden and not already *.COMPLETED, oldest first, as
// Flume's spooling reader with its LINE deserializer does (lines end at \n, at most 2048
// characters per event), and renames each file to <name>.COMPLETED once all its events were
// acknowledged. Unlike Flume, whose client logs a failure and still exits 0, a failure exits 1
// and bad usage 2.

namespace sluice::core::cli {

int runAvroClient(int argc, char** argv);

}  // namespace sluice::core::cli
