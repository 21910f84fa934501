// A Kafka cluster for tests and benchmarks: librdkafka's mock cluster (the Kafka protocol,
// brokers on 127.0.0.1 ephemeral ports) in a process of its own.
//
//   kafka_mock [--brokers N] [TOPIC[:PARTITIONS[:REPLICATION]]]...
//
// Creates the cluster (3 brokers by default) and the topics (4 partitions, replication 3 by
// default; other topics are created on first use, with 4 partitions), prints the bootstrap
// servers as the first line of stdout, and runs until SIGTERM or SIGINT. Commands on stdin, one
// per line, each answered "ok" or "error: ..." on stdout:
//
//   down all|ID          the broker(s) drop their connections and refuse new ones
//   up all|ID            accept connections again
//   topic NAME [PARTITIONS [REPLICATION]]
//   errors APIKEY CODE COUNT    the next COUNT requests of APIKEY (0 = Produce, 8 = OffsetCommit)
//                               fail with error CODE (a Kafka protocol error number)
//
// tests/support/kafka_test.py starts it and reads the address. Mind the mock's retention: each
// partition keeps only its last 5 MB (and 100,000 message sets); older messages are dropped, so
// a test that reads a topic after filling it must spread the data over enough partitions.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::mutex outMutex;

void reply(const std::string& line) {
  std::lock_guard lock(outMutex);
  std::cout << line << std::endl;
}

int32_t brokerArg(const std::string& s) { return s == "all" ? -1 : std::atoi(s.c_str()); }

void serveCommands(rd_kafka_mock_cluster_t* mc) {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd.empty()) continue;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cmd == "down" || cmd == "up") {
      std::string which = "all";
      in >> which;
      err = cmd == "down" ? rd_kafka_mock_broker_set_down(mc, brokerArg(which))
                          : rd_kafka_mock_broker_set_up(mc, brokerArg(which));
    } else if (cmd == "topic") {
      std::string name;
      int partitions = 4, replication = 3;
      in >> name >> partitions >> replication;
      err = rd_kafka_mock_topic_create(mc, name.c_str(), partitions, replication);
    } else if (cmd == "errors") {
      int apiKey = -1, code = 0;
      std::size_t count = 0;
      in >> apiKey >> code >> count;
      std::vector<rd_kafka_resp_err_t> errs(count, static_cast<rd_kafka_resp_err_t>(code));
      rd_kafka_mock_push_request_errors_array(mc, static_cast<int16_t>(apiKey), count, errs.data());
    } else {
      reply("error: unknown command '" + cmd + "'");
      continue;
    }
    reply(err ? std::string("error: ") + rd_kafka_err2str(err) : "ok");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  std::vector<std::string> topics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
    } else if (a == "-h" || a == "--help") {
      std::cerr << "usage: kafka_mock [--brokers N] [TOPIC[:PARTITIONS[:REPLICATION]]]...\n";
      return 2;
    } else {
      topics.push_back(a);
    }
  }

  // Every thread, librdkafka's included, inherits this mask; main waits for the signals.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::cerr << "kafka_mock: " << err << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    std::cerr << "kafka_mock: cannot create the mock cluster\n";
    return 1;
  }
  for (const std::string& t : topics) {
    std::string name = t;
    int partitions = 4, replication = std::min(3, brokers);
    if (auto c = t.find(':'); c != std::string::npos) {
      name = t.substr(0, c);
      std::string rest = t.substr(c + 1);
      partitions = std::atoi(rest.c_str());
      if (auto c2 = rest.find(':'); c2 != std::string::npos)
        replication = std::atoi(rest.substr(c2 + 1).c_str());
    }
    if (rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(mc, name.c_str(), partitions, replication)) {
      std::cerr << "kafka_mock: cannot create topic " << name << ": " << rd_kafka_err2str(e)
                << "\n";
      return 1;
    }
  }
  reply(rd_kafka_mock_cluster_bootstraps(mc));

  std::thread(serveCommands, mc).detach();  // ends with the process
  int sig = 0;
  sigwait(&stopSignals, &sig);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
