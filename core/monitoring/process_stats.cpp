#include "core/monitoring/process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::core::monitoring {

ProcessStats readProcessStats() {
  ProcessStats p;
  long page = sysconf(_SC_PAGESIZE);
  long ticks = sysconf(_SC_CLK_TCK);
  {
    std::ifstream f("/proc/self/stat");
    std::string line;
    if (std::getline(f, line)) {
      // Fields after the command name in parentheses (which may hold spaces).
      std::size_t close = line.rfind(')');
      if (close != std::string::npos) {
        std::istringstream in(line.substr(close + 2));
        std::vector<std::string> fld;
        std::string tok;
        while (in >> tok) fld.push_back(tok);
        // fld[0] is field 3 (state): utime=14, stime=15, num_threads=20, starttime=22, vsize=23,
        // rss=24 -> indexes 11, 12, 17, 19, 20, 21.
        if (fld.size() > 21 && ticks > 0) {
          p.cpuSeconds = (std::stod(fld[11]) + std::stod(fld[12])) / static_cast<double>(ticks);
          p.threads = std::stod(fld[17]);
          double startTicks = std::stod(fld[19]);
          p.virtualBytes = std::stod(fld[20]);
          p.residentBytes = std::stod(fld[21]) * static_cast<double>(page);
          std::ifstream st("/proc/stat");
          std::string key;
          double btime = 0;
          while (st >> key) {
            if (key == "btime") {
              st >> btime;
              break;
            }
            st.ignore(1 << 20, '\n');
          }
          p.startTimeSeconds = btime + startTicks / static_cast<double>(ticks);
          p.ok = true;
        }
      }
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    p.openFds = n - 1;  // not counting the directory stream itself
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) p.maxFds = static_cast<double>(rl.rlim_cur);
  return p;
}

}  // namespace sluice::core::monitoring
