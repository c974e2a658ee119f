#include "cli/report_commands.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "cli/cli_run.hpp"
#include "cli/cli_support.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/graph.hpp"
#include "core/registry.hpp"
#include "core/search_space.hpp"
#include "results/drawing.hpp"
#include "results/report.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"

namespace nascent {

namespace {

// Draws candidates with their run's own space (built from the stored config), laid out by
// Graphviz. Spaces and drawings are cached: `serve` redraws only new top candidates.
class CandidateDrawer {
 public:
  Drawing operator()(const RunRecord& run, const std::string& arch) {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto key = std::make_pair(run.id, arch);
    if (const auto found = drawings_.find(key); found != drawings_.end()) return found->second;
    Drawing drawing;
    try {
      const SearchSpace& space = space_of(run);
      if (const auto* own = dynamic_cast<const DrawsArchitecture*>(&space)) {
        drawing.svg = dot_to_svg(own->drawing(arch));
        drawing.what = space.name() + " " + own->drawing_kind();
      } else {
        drawing.svg = dot_to_svg(graph_to_dot(space.graph(arch)));
        drawing.what = space.name() + " computation graph";
      }
    } catch (const std::exception& error) {
      drawing = {"", std::string("no drawing: ") + error.what()};
    }
    drawings_[key] = drawing;
    return drawing;
  }

 private:
  const SearchSpace& space_of(const RunRecord& run) {
    auto& space = spaces_[run.id];
    if (!space) space = make_run_space(Config::parse(run.config), ".");
    return *space;
  }
  std::mutex mutex_;
  std::map<std::int64_t, std::unique_ptr<SearchSpace>> spaces_;
  std::map<std::pair<std::int64_t, std::string>, Drawing> drawings_;
};

void require_database(const std::string& db) {
  if (!std::filesystem::exists(db)) throw Error(db + " does not exist");
}

}  // namespace

void add_report_command(CLI::App& app, const std::vector<std::string>& plugins) {
  struct Args {
    std::string db = "nascent.db", out = "report.html";
    std::vector<std::int64_t> runs;
    std::size_t top = 5;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("report", "Write an HTML report of a results database (one file, works offline)");
  cmd->add_option("--db", args->db, "Results database (SQLite)")->capture_default_str();
  cmd->add_option("--run", args->runs, "Runs to include (repeatable; default: all)");
  cmd->add_option("--out", args->out, "HTML file to write")->capture_default_str();
  cmd->add_option("--top", args->top, "Top candidates drawn per run")->check(at_least(0))->capture_default_str();
  cmd->callback([args, &plugins] {
    for (const auto& plugin : plugins) load_plugin(plugin);
    require_database(args->db);
    if (args->out.empty()) throw Error("--out: the report's file name is empty");
    if (std::filesystem::is_directory(args->out)) throw Error("--out: " + args->out + " is a folder; name the HTML file to write");
    const ResultStore store(args->db, ResultStore::Mode::ReadOnly);
    ReportOptions options;
    options.runs = args->runs;
    options.top = args->top;
    CandidateDrawer drawer;
    const std::string page = report_page(report_data(store, options, std::ref(drawer)));
    const std::string partial = args->out + ".partial";
    {
      std::ofstream out(partial, std::ios::binary);
      if (!out) throw Error("cannot write " + args->out);
      out << page;
      if (!out.flush()) throw Error("cannot write " + args->out);
    }
    std::error_code renamed;
    std::filesystem::rename(partial, args->out, renamed);
    if (renamed) {
      std::error_code ignored;
      std::filesystem::remove(partial, ignored);
      throw Error("cannot write " + args->out + ": " + renamed.message());
    }
    std::cout << "report of " << args->db << " written to " << args->out << " (" << page.size() / 1024 << " KiB)\n";
  });
}

void add_serve_command(CLI::App& app, const std::vector<std::string>& plugins) {
  struct Args {
    std::string db = "nascent.db", host = "127.0.0.1";
    int port = 8080;
    std::vector<std::int64_t> runs;
    std::size_t top = 5;
    int poll_ms = 2000;
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("serve", "Serve the report live while a search writes (read-only, 127.0.0.1 unless --host)");
  cmd->add_option("--db", args->db, "Results database (SQLite)")->capture_default_str();
  cmd->add_option("--port", args->port, "Port (0: any free port)")->check(between(0, 65535))->capture_default_str();
  cmd->add_option("--host", args->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--run", args->runs, "Runs to include (repeatable; default: all)");
  cmd->add_option("--top", args->top, "Top candidates drawn per run")->check(at_least(0))->capture_default_str();
  cmd->add_flag("--quiet,-q", args->quiet, "Do not log requests on stderr");
  cmd->add_option("--poll-ms", args->poll_ms, "How often the page asks for new results")->check(between(100, 600000))->capture_default_str();
  cmd->callback([args, &plugins] {
    for (const auto& plugin : plugins) load_plugin(plugin);
    require_database(args->db);
    ReportOptions options;
    options.runs = args->runs;
    options.top = args->top;
    options.live = true;
    options.poll_ms = args->poll_ms;
    auto drawer = std::make_shared<CandidateDrawer>();
    // Each request reads through its own read-only connection: the search keeps writing meanwhile.
    const auto data = [args, options, drawer] {
      const ResultStore store(args->db, ResultStore::Mode::ReadOnly);
      return report_data(store, options, std::ref(*drawer));
    };
    data();  // a foreign or empty database is one line now, not an error page later
    httplib::Server server;
    server.Get("/", [data](const httplib::Request&, httplib::Response& response) {
      try {
        response.set_content(report_page(data()), "text/html; charset=utf-8");
      } catch (const std::exception& error) {
        response.status = 500;
        response.set_content(error.what(), "text/plain; charset=utf-8");
      }
    });
    server.Get("/data.json", [data](const httplib::Request&, httplib::Response& response) {
      try {
        response.set_header("Cache-Control", "no-store");
        response.set_content(data(), "application/json");
      } catch (const std::exception& error) {
        response.status = 500;
        response.set_content(error.what(), "text/plain; charset=utf-8");
      }
    });
    if (!args->quiet)
      server.set_logger([](const httplib::Request& request, const httplib::Response& response) {
        std::cerr << request.method << " " << request.path << " " << response.status << std::endl;
      });
    const int port = args->port == 0 ? server.bind_to_any_port(args->host) : (server.bind_to_port(args->host, args->port) ? args->port : -1);
    if (port < 0) throw Error("serve: cannot listen on " + args->host + ":" + std::to_string(args->port) + " (in use?)");
    std::cerr << "serving " << args->db << " at http://" << args->host << ":" << port << "/ (Ctrl-C stops)" << std::endl;
    stop_runs_on_interrupt();
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      while (!done && !stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      server.stop();
    });
    server.listen_after_bind();
    done = true;
    watcher.join();
  });
}

}  // namespace nascent
