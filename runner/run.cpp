// The run driver: one lifecycle for every method. It reads what every run shares (seed, budget,
// parallelism, objective), builds the space and the method from their registries, lets the method
// check its config before anything is written, records the run, steps the method and marks how
// the run ended.
#include <fcntl.h>
#include <sys/file.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "core/checkpoint.hpp"
#include "core/cluster.hpp"
#include "core/data_parallel.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "evaluators/cluster_evaluator.hpp"
#include "results/store.hpp"
#include "runner/search.hpp"
#include "runner/final_training.hpp"
#include "strategies/method.hpp"

namespace nascent {

namespace {

std::atomic<bool> g_stop_requested{false};

using Clock = std::chrono::steady_clock;

// One writer per run: an exclusive flock on DB.checkpoints/run-N.lock, held while the run is
// written. The kernel drops it when the holder exits, however it dies, so a stale lock never
// needs clearing; the file names the holder for the refusal message.
class RunLock {
 public:
  RunLock(const std::string& db_path, std::int64_t run) {
    const std::filesystem::path folder = db_path + ".checkpoints";
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    path_ = (folder / ("run-" + std::to_string(run) + ".lock")).string();
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error("cannot create the run lock " + path_ + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char holder[256] = {0};
      const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
      ::close(fd_);
      fd_ = -1;
      std::string who = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "another process";
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
      throw Error("run " + std::to_string(run) + " of " + db_path + " is being written by " + who +
                  "; wait for it to end or stop it, then --resume");
    }
    char host[128] = "unknown host";
    ::gethostname(host, sizeof host - 1);
    const std::string who = "pid " + std::to_string(::getpid()) + " on " + host + "\n";
    if (::ftruncate(fd_, 0) == 0) {
      const ssize_t written = ::pwrite(fd_, who.data(), who.size(), 0);
      (void)written;  // the name is for the message only; the lock itself is what counts
    }
  }
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// The store behind a RunContext; numbering, timing and progress lines live here so that every
// method gets the same.
class StoreContext final : public RunContext {
 public:
  StoreContext() : started_(Clock::now()) {}

  void open(const std::string& db_path) { store_ = std::make_unique<ResultStore>(db_path, ResultStore::Mode::ReadWrite); }
  ResultStore& store() { return *store_; }
  bool opened() const { return store_ != nullptr; }
  // Takes the run's writer lock: a second writer of the same run is refused here, before it
  // changes anything.
  void lock(const std::string& db_path, std::int64_t run) { lock_ = std::make_unique<RunLock>(db_path, run); }
  void start(std::int64_t run, std::int64_t next_seq, double offset) {
    run_ = run;
    next_seq_ = next_seq;
    elapsed_offset = offset;
    started_ = Clock::now();
  }
  std::int64_t run_id() const { return run_; }
  std::string space_name;  // as the config names it (a grammar space's own name may differ)
  std::int64_t stored() const { return next_seq_; }

  double elapsed() const override { return elapsed_offset + std::chrono::duration<double>(Clock::now() - started_).count(); }
  bool interrupted() const override { return g_stop_requested; }

  std::int64_t record(Stage stage, const std::string& arch, const Evaluation& result, std::optional<double> value,
                      std::optional<std::int64_t> at) override {
    std::int64_t seq;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seq = at.value_or(next_seq_);
    }
    const std::string canonical = space->canonical(arch);
    auto stored = replay.find(seq);
    if (stored != replay.end()) {
      if (stored->second.arch != canonical || stored->second.stage != stage)
        throw Error("--resume: evaluation " + std::to_string(seq) + " is " + stored->second.arch + " (" + to_string(stored->second.stage) +
                    ") but the run now computes " + canonical + " (" + to_string(stage) + ")");
      std::lock_guard<std::mutex> lock(mutex_);
      next_seq_ = std::max(next_seq_, seq + 1);
      return seq;
    }
    record_at(seq, stage, canonical, space->fingerprint(canonical), result, value, std::nullopt);
    return seq;
  }

  void record_at(std::int64_t seq, Stage stage, const std::string& arch, const std::string& fingerprint, const Evaluation& result,
                 std::optional<double> value, std::optional<std::int64_t> parent) override {
    std::lock_guard<std::mutex> lock(mutex_);
    StoredEvaluation e;
    e.run = run_;
    e.seq = seq;
    e.space = space_name;
    e.arch = arch;
    e.fingerprint = fingerprint;
    e.result = result;
    e.fitness = value;  // the objective's value as measured; the run records which way is better
    e.elapsed = elapsed();
    e.stage = stage;
    e.parent = parent;
    mark_running();
    store_->add_evaluation(e);
    next_seq_ = std::max(next_seq_, seq + 1);
  }

  void record_curve(const std::string& curve, double step, double value, const std::string& label) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stored_points_.count({curve, step})) return;
    mark_running();
    store_->add_curve_points(run_, {CurvePoint{run_, curve, step, value, label}});
  }

  // Resuming: the run is marked running again only once it stores something new, so that
  // resuming a finished run with nothing left to do (or killing that) leaves it as it was.
  void reopen_later(std::int64_t run) { reopen_pending_ = run; }
  // Whether the run ends with a new status: a resumed run that stored nothing keeps its own.
  bool wrote() const { return reopen_pending_ == 0; }

  // Resuming: the points the run already holds are not stored twice.
  void load_stored_points(std::int64_t run) {
    for (const auto& point : store_->curves(run)) stored_points_.insert({point.curve, point.step});
  }

  void progress(const std::string& line, bool force) override {
    if (quiet) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = Clock::now();
    if (!force && std::chrono::duration<double>(now - last_line_).count() < 10) return;
    last_line_ = now;
    std::fprintf(stderr, "%s\n", line.c_str());
  }

 private:
  // Called with mutex_ held.
  void mark_running() {
    if (reopen_pending_ == 0) return;
    store_->reopen_run(reopen_pending_);
    reopen_pending_ = 0;
  }
  std::int64_t reopen_pending_ = 0;
  std::unique_ptr<RunLock> lock_;  // released after the store closes
  std::unique_ptr<ResultStore> store_;
  std::set<std::pair<std::string, double>> stored_points_;
  std::int64_t run_ = 0;
  std::int64_t next_seq_ = 0;
  Clock::time_point started_;
  Clock::time_point last_line_ = Clock::now() - std::chrono::hours(1);
  std::mutex mutex_;
};

const std::vector<std::string> kRunSections{"name",   "description", "seed",     "space",  "strategy",
                                            "objective", "budget",   "parallel", "plugins", "final_training"};

// `nascent train`: a run with no search, whose only work is the final training of
// final_training.arch; being a Method, it gets the store, progress, Ctrl-C and resume like any run.
class TrainOnly final : public Method {
 public:
  explicit TrainOnly(std::string arch) : arch_(std::move(arch)) {}
  std::string label() const override { return "train"; }
  std::string evaluator_label() const override { return "train"; }
  void prepare(RunContext& context) override { arch_ = context.space->canonical(arch_); }
  std::vector<std::string> sections() const override { return {}; }
  bool resumable() const override { return true; }
  MethodResult run(RunContext& context) override {
    MethodResult result;
    result.best_arch = arch_;
    return result;
  }

 private:
  std::string arch_;
};

std::unique_ptr<Method> make_method(const Config& strategy) {
  const std::string name = strategy.get<std::string>("name", "evolution");
  auto& all = registries();
  if (all.methods.contains(name)) return all.methods.create(name, strategy);
  if (all.strategies.contains(name)) return make_ask_tell_search(strategy);
  throw Error("config: strategy.name: unknown strategy '" + name + "' (methods: " + all.methods.names() +
              "; ask/tell strategies: " + all.strategies.names() + ")");
}

void check_sections(const Config& config, const Method& method, const std::string& name) {
  std::vector<std::string> allowed = kRunSections;
  for (const auto& section : method.sections()) allowed.push_back(section);
  for (const auto& item : config.node()) {
    const std::string key = item.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string accepted;
    for (const auto& section : method.sections()) accepted += (accepted.empty() ? "" : ", ") + section;
    throw Error("config: unknown key '" + key + "' for strategy " + name + " (besides the run's keys it accepts: " +
                (accepted.empty() ? "nothing" : accepted) + ")");
  }
}

Budget read_budget(const Config& config, const Method& method, const std::string& name) {
  const Config section = config.child("budget");
  const std::vector<std::string> keys = method.budget_keys();
  for (const auto& item : section.node()) {
    const std::string key = item.first.as<std::string>();
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    std::string valid;
    for (const auto& k : keys) valid += (valid.empty() ? "" : ", ") + k;
    throw Error("config: strategy " + name + ": unknown key 'budget." + key + "' (valid: " + valid + ")");
  }
  Budget budget;
  if (section.has("evaluations")) budget.evaluations = section.get<long long>("evaluations");
  if (section.has("seconds")) budget.seconds = section.get<double>("seconds");
  if (section.has("cost")) budget.cost = section.get<double>("cost");
  if (section.has("epochs")) budget.epochs = section.get<double>("epochs");
  if (budget.evaluations && *budget.evaluations < 0) throw Error("config: budget.evaluations must not be negative");
  if (budget.seconds && !(*budget.seconds >= 0)) throw Error("config: budget.seconds must not be negative");
  if (budget.epochs && !(*budget.epochs > 0)) throw Error("config: budget.epochs must be positive");
  if (method.needs_budget() && !budget.evaluations && !budget.seconds && !budget.cost && !budget.epochs) {
    std::string valid;
    for (std::size_t i = 0; i < keys.size(); ++i) valid += (i == 0 ? "" : i + 1 == keys.size() ? " or " : ", ") + keys[i];
    throw Error("config: budget needs at least one of " + valid);
  }
  return budget;
}

constexpr int kMaxWorkers = 1024;

void read_parallel(const Config& config, const Method& method, RunContext& context) {
  const Config parallel = config.child("parallel");
  if (method.evaluates_in_parallel()) {
    parallel.check_keys({"workers", "threads_per_worker", "batch"});
    context.workers = parallel.get<int>("workers", 1);
    context.threads = parallel.get<int>("threads_per_worker", 1);
    const int batch = parallel.get<int>("batch", context.workers);
    if (context.workers < 1) throw Error("config: parallel.workers must be at least 1");
    // Each worker is a thread training one candidate; thousands are a typo, not a machine.
    if (context.workers > kMaxWorkers)
      throw Error("config: parallel.workers " + std::to_string(context.workers) + " is more than " + std::to_string(kMaxWorkers) +
                  " (workers are threads of this process; spread further with mpirun)");
    if (batch < 1) throw Error("config: parallel.batch must be at least 1");
    context.batch = static_cast<std::size_t>(batch);
  } else {
    parallel.check_keys({"threads_per_worker"});
    // One network trains at a time, so by default it gets every core (shared by the processes of
    // a data-parallel job on this machine).
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int here = method.trains_data_parallel() ? cluster::local_size() : 1;
    context.threads = parallel.get<int>("threads_per_worker", std::max(1, cores / here));
  }
  if (context.threads < 1) throw Error("config: parallel.threads_per_worker must be at least 1");
}

// What every process of a run reads from its options and config alike: seed, paths, budget,
// objectives, constraints and parallelism.
void read_run_settings(RunContext& context, const SearchOptions& options, const Method& method, const std::string& name) {
  const Config& config = options.config;
  context.seed = options.seed ? *options.seed : config.get<unsigned long>("seed", 0);
  context.config_dir = options.config_dir;
  context.config = &config;
  // A training run's budget is its epochs; a search config's budget belongs to its search.
  if (!options.train_only) context.budget = read_budget(config, method, name);
  context.objective = read_objective(config, method.default_metric(config));
  context.objectives = read_objectives(config, context.objective);
  context.objective = context.objectives.front();
  context.constraints = read_constraints(config);
  if (!options.train_only) read_parallel(config, method, context);
}

}  // namespace

std::unique_ptr<SearchSpace> make_run_space(const Config& config, const std::string& config_dir) {
  Config space_config = config.child("space");
  // A grammar file (space `grammar`) or a model library (`flexibert`) may sit next to the config,
  // like any other data path.
  for (const char* path_key : {"file", "models"}) {
    if (!space_config.has(path_key)) continue;
    YAML::Node resolved = YAML::Clone(space_config.node());
    resolved[path_key] = resolve_path(space_config.get<std::string>(path_key), config_dir);
    space_config = Config(resolved, space_config.path());
  }
  return registries().spaces.create(space_config.get<std::string>("name"), space_config);
}

std::string weights_path_for(const std::string& db_path, std::int64_t run, std::size_t step) {
  return db_path + ".models/run-" + std::to_string(run) + (step == 0 ? "" : "-" + std::to_string(step)) + ".weights";
}

namespace {

// The part of a config that decides what a run computes. Budgets, worker counts and the device
// may change between a run and its resumption.
std::string identity_of(const Config& config) {
  YAML::Node copy = YAML::Clone(config.node());
  copy.remove("budget");
  if (copy["parallel"]) {
    copy["parallel"].remove("workers");
    copy["parallel"].remove("threads_per_worker");
  }
  for (const char* section : {"evaluator", "predictor", "strategy"})
    if (copy[section] && copy[section].IsMap()) copy[section].remove("device");
  YAML::Emitter out;
  out << copy;
  return out.c_str();
}

std::string checkpoint_path_for(const std::string& db_path, std::int64_t run) {
  return db_path + ".checkpoints/run-" + std::to_string(run) + ".ckpt";
}


// Resuming: the latest run of the database, if its config matches; its evaluations are replayed
// and the method restores its checkpoint before the run is marked running again.
std::int64_t reopen(StoreContext& context, const SearchOptions& options, const Config& config, Method& method, std::size_t final_steps) {
  ResultStore& store = context.store();
  auto previous = store.latest_run();
  if (!previous) throw Error("--resume: " + options.db_path + " has no run to resume");
  if (options.seed && *options.seed != previous->seed)
    throw Error("--resume: run " + std::to_string(previous->id) + " used seed " + std::to_string(previous->seed) + ", not " +
                std::to_string(*options.seed));
  if (identity_of(Config::parse(previous->config)) != identity_of(config))
    throw Error("--resume: the config differs from run " + std::to_string(previous->id) +
                " (only budget, parallel workers/threads and devices may change)");
  context.lock(options.db_path, previous->id);
  context.seed = previous->seed;
  context.resuming = true;
  double offset = 0;
  std::int64_t next = 0;
  for (auto& e : store.evaluations(previous->id)) {
    offset = std::max(offset, e.elapsed);
    next = std::max(next, e.seq + 1);
    context.replay[e.seq] = ReplayedEvaluation{e.stage, e.arch, e.result};
  }
  context.checkpoint_path = checkpoint_path_for(options.db_path, previous->id);
  method.restore(context);
  // A final training's checkpoint is read only once the search is over: a damaged one is refused
  // now, while the run is still as it was.
  for (std::size_t step = 0; step < final_steps; ++step) read_checkpoint_file(context.checkpoint_path + ".final" + std::to_string(step));
  context.load_stored_points(previous->id);
  if (previous->status == "finished") context.reopen_later(previous->id);
  else store.reopen_run(previous->id);
  context.start(previous->id, next, offset);
  return previous->id;
}

// Marks the run `interrupted` as soon as a stop is requested, from its own thread, instead of
// when the method has wound down: a signal may be followed by SIGKILL before that (mpirun ends a
// job whose process died with SIGTERM and, a second later, SIGKILL; Slurm and docker do the same
// with a longer grace), which would leave the run marked `running`. The method's own ending
// writes the final status over it.
class StopWatcher {
 public:
  StopWatcher(ResultStore& store, std::int64_t run, bool quiet)
      : thread_([this, &store, run, quiet] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!done_) {
            if (g_stop_requested) {
              // Said here rather than in the signal handler, where printing is not safe.
              if (!quiet)
                std::fprintf(stderr, "\nnascent: stopping run %lld: trainings in progress end at their next step and are not stored; "
                                     "--resume continues (Ctrl-C again quits at once)\n",
                             static_cast<long long>(run));
              try {
                store.finish_run(run, "interrupted");
              } catch (const std::exception&) {
                // The method's ending tries again.
              }
              return;
            }
            wake_.wait_for(lock, std::chrono::milliseconds(20));
          }
        }) {}
  ~StopWatcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

// --device cuda spreads processes over the visible GPUs and --device cuda:0,2 over those listed:
// the device of the `index`-th process that computes.
std::string device_of_process(const std::string& spec, int index) {
  std::vector<std::string> devices;
  if (spec == "cuda") {
    for (int i = 0; i < static_cast<int>(torch::cuda::device_count()); ++i) devices.push_back("cuda:" + std::to_string(i));
  } else if (spec.rfind("cuda:", 0) == 0 && spec.find(',') != std::string::npos) {
    for (std::size_t begin = 5; begin <= spec.size();) {
      const std::size_t end = std::min(spec.find(',', begin), spec.size());
      devices.push_back("cuda:" + spec.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  return devices.empty() ? spec : devices[static_cast<std::size_t>(index) % devices.size()];
}

// What a process other than 0 does in a data-parallel run: the same method on the same config,
// storing nothing, until process 0's run ends.
class ReplicaContext final : public RunContext {
 public:
  ReplicaContext() : started_(Clock::now()) {}
  double elapsed() const override { return std::chrono::duration<double>(Clock::now() - started_).count(); }
  bool interrupted() const override { return false; }  // process 0 decides (DataParallel::agree)
  std::int64_t record(Stage, const std::string&, const Evaluation&, std::optional<double>, std::optional<std::int64_t> seq) override {
    return seq.value_or(0);
  }
  void record_at(std::int64_t, Stage, const std::string&, const std::string&, const Evaluation&, std::optional<double>,
                 std::optional<std::int64_t>) override {}
  void record_curve(const std::string&, double, double, const std::string&) override {}
  void progress(const std::string&, bool) override {}

 private:
  Clock::time_point started_;
};

void train_as_replica(const SearchOptions& options, Method& method, const std::string& name, const SearchSpace& space) {
  ReplicaContext context;
  context.device_override = device_of_process(options.device.value_or(""), cluster::rank());
  context.quiet = true;
  read_run_settings(context, options, method, name);
  context.space = &space;
  const std::unique_ptr<DataParallel> group = data_parallel_over_processes();
  context.data_parallel = group.get();
  context.replica = true;
  method.prepare(context);
  at::set_num_threads(context.threads);
  try {
    method.run(context);
  } catch (const RunStopped&) {
    // process 0 stopped at the same point
  }
}

}  // namespace

void request_stop() { g_stop_requested = true; }
bool stop_requested() { return g_stop_requested; }

SearchSummary run_search(const SearchOptions& options) {
  g_stop_requested = false;
  const Config& config = options.config;
  for (const auto& plugin : config.get<std::vector<std::string>>("plugins", {})) load_plugin(resolve_path(plugin, options.config_dir));
  for (const auto& plugin : options.plugins) load_plugin(plugin);

  const Config strategy = config.child("strategy");
  std::unique_ptr<Method> method;
  std::string name;
  const std::vector<Config> final_sections = final_training_sections(config);
  const std::optional<std::string> train_arch =
      !final_sections.empty() && final_sections.front().has("arch") ? std::optional(final_sections.front().get<std::string>("arch"))
                                                                    : std::nullopt;
  if (options.train_only) {
    if (!train_arch) throw Error("nascent train: no architecture (give --arch, or --db with --eval)");
    name = "train";
    method = std::make_unique<TrainOnly>(*train_arch);
  } else {
    if (train_arch)
      throw Error("config: final_training.arch: only `nascent train` takes an architecture; a search trains its best");
    name = strategy.get<std::string>("name", "evolution");
    method = make_method(strategy);
    check_sections(config, *method, name);
  }
  StoreContext context;
  context.device_override = options.device.value_or("");
  if (context.device_override.rfind("cuda:", 0) == 0 && context.device_override.find(',') != std::string::npos) {
    // A list names the GPUs mpirun's evaluating processes spread over; process 0's own checks use the first.
    if (cluster::size() <= 1)
      throw Error("--device " + context.device_override + ": a list of devices is for mpirun's processes; one process uses one (cuda or cuda:N)");
    context.device_override.resize(context.device_override.find(','));
  }
  context.quiet = options.quiet;
  read_run_settings(context, options, *method, name);
  std::unique_ptr<DataParallel> data_parallel;
  if (cluster::size() > 1 && !options.train_only) {
    // Process 0 keeps one job in flight per other process; `parallel.batch`, not the process count,
    // decides what the strategy sees, so give it to compare with a single-process run.
    if (method->evaluates_in_parallel()) {
      context.workers = cluster::size() - 1;
      if (!config.child("parallel").has("batch")) context.batch = static_cast<std::size_t>(context.workers);
    } else if (method->trains_data_parallel()) {
      data_parallel = data_parallel_over_processes();
      context.data_parallel = data_parallel.get();
      context.device_override = device_of_process(options.device.value_or(""), 0);
      if (!options.quiet)
        std::fprintf(stderr, "nascent: %s trains data-parallel over %d processes (each batch split between them)\n", name.c_str(), cluster::size());
    } else if (!options.quiet) {
      std::fprintf(stderr, "nascent: %s trains one supernet in process 0; the other %d processes wait (it does not train data-parallel)\n",
                   name.c_str(), cluster::size() - 1);
    }
  }
  if (options.resume && !method->resumable())
    throw Error("--resume: " + name + " runs cannot be resumed yet; start a new run");
  // A requeued job always passes --resume: with no run to resume yet, it starts one.
  bool resume = options.resume;
  if (resume) {
    std::error_code ec;
    const bool blank = !std::filesystem::exists(options.db_path, ec) || (std::filesystem::file_size(options.db_path, ec) == 0 && !ec) ||
                       !ResultStore(options.db_path, ResultStore::Mode::ReadOnly).latest_run();
    if (blank) {
      resume = false;
      if (!options.quiet) std::fprintf(stderr, "nascent: --resume: %s holds no run yet; starting one\n", options.db_path.c_str());
    }
  }
  auto space = make_run_space(config, options.config_dir);
  context.space = space.get();
  context.space_name = config.child("space").get<std::string>("name");
  method->prepare(context);  // every config error surfaces here, before anything is written
  std::vector<FinalStep> final_steps = read_final_steps(config, context);
  at::set_num_threads(context.threads);

  context.open(options.db_path);
  if (resume) {
    reopen(context, options, config, *method, final_steps.size());
  } else {
    RunInfo info;
    info.config = config.dump();
    info.seed = context.seed;
    info.space = context.space_name;
    info.strategy = method->label();
    info.evaluator = method->evaluator_label();
    info.objective_metric = context.objective.metric;
    info.maximize = context.objective.maximize;
    info.final_stage = method->final_stage();
    const std::int64_t run = context.store().begin_run(info);
    context.lock(options.db_path, run);
    context.checkpoint_path = checkpoint_path_for(options.db_path, run);
    context.start(run, 0, 0);
  }
  MethodResult result;
  auto watcher = std::make_unique<StopWatcher>(context.store(), context.run_id(), context.quiet);
  try {
    result = method->run(context);
  } catch (const RunStopped& stopped) {
    result.status = stopped.status;
    result.counted = context.stored();
  } catch (...) {
    watcher.reset();
    if (context.wrote()) context.store().finish_run(context.run_id(), "failed");
    throw;
  }
  cluster::release_workers();  // a final training runs in this process alone
  SearchSummary summary;
  // The search's budget is the search's: its best is trained however the search ended, unless
  // the user stopped the run.
  const bool searched = result.status == "finished" || result.status == "exhausted" || result.status == "budget";
  if (!final_steps.empty() && searched && !g_stop_requested && !result.best_arch.empty()) {
    FinalOutcome outcome;
    try {
      const std::string run_file = checkpoint_path_for(options.db_path, context.run_id());
      outcome = run_final_steps(final_steps, result.best_arch, context, run_file + ".final",
                                [&](std::size_t step) { return weights_path_for(options.db_path, context.run_id(), step); });
    } catch (...) {
      watcher.reset();
      if (context.wrote()) context.store().finish_run(context.run_id(), "failed");
      throw;
    }
    result.counted += outcome.evaluations;
    result.evaluated_now += outcome.evaluated_now;
    if (outcome.completed) {
      summary.final_metrics = outcome.metrics;
      summary.weights = outcome.weights;
      if (outcome.value) {
        result.best_value = outcome.value;
        result.best_metrics = outcome.metrics;
      }
    }
  }
  watcher.reset();
  if (g_stop_requested) result.status = "interrupted";
  if (context.wrote()) context.store().finish_run(context.run_id(), result.status);

  summary.run = context.run_id();
  summary.status = result.status;
  summary.evaluations = result.counted;
  summary.evaluated_now = result.evaluated_now;
  summary.best_arch = result.best_arch;
  summary.best_fitness = result.best_value.value_or(0);
  summary.best_metrics = result.best_metrics;
  summary.elapsed = context.elapsed();
  return summary;
}

bool serve_as_cluster_worker(const SearchOptions& options) {
  cluster::start();
  if (cluster::size() <= 1 || cluster::rank() == 0) return false;
  // Ctrl-C reaches every process of the job: a worker finishes its evaluation and waits for
  // process 0, which stores what is in flight and then releases it.
  std::signal(SIGINT, SIG_IGN);
  const Config& config = options.config;
  for (const auto& plugin : config.get<std::vector<std::string>>("plugins", {})) load_plugin(resolve_path(plugin, options.config_dir));
  for (const auto& plugin : options.plugins) load_plugin(plugin);
  const auto space = make_run_space(config, options.config_dir);
  if (!options.train_only) {
    const Config strategy = config.child("strategy");
    std::unique_ptr<Method> method = make_method(strategy);
    if (method->trains_data_parallel()) {
      train_as_replica(options, *method, strategy.get<std::string>("name", "evolution"), *space);
      cluster::receive(0, cluster::kJobTag);  // process 0's release, once its run has ended
      return true;
    }
  }
  ServeSettings settings;
  settings.config = &config;
  settings.config_dir = options.config_dir;
  settings.threads = config.child("parallel").get<int>("threads_per_worker", 1);
  settings.space = space.get();
  if (options.device) settings.device = device_of_process(*options.device, cluster::rank() - 1);
  serve_evaluations(settings);
  return true;
}

Objective read_objective(const Config& config, const std::string& default_metric) {
  const Config objective = config.child("objective");
  objective.check_keys({"metric", "mode"});
  const std::string mode = objective.get<std::string>("mode", "max");
  if (mode != "max" && mode != "min") throw Error("config: objective.mode must be max or min, got '" + mode + "'");
  return {objective.get<std::string>("metric", default_metric), mode == "max"};
}

std::vector<Objective> read_objectives(const Config& config, const Objective& single) {
  if (!config.has("objectives")) return {single};
  if (config.has("objective")) throw Error("config: give objective or objectives, not both");
  const YAML::Node list = config.node()["objectives"];
  if (!list.IsSequence() || list.size() == 0) throw Error("config: objectives: expected a list such as [val_acc:max, flops:min]");
  std::vector<Objective> objectives;
  for (const YAML::Node& item : list) {
    const std::string text = item.IsScalar() ? item.as<std::string>() : "";
    const std::optional<Objective> objective = parse_objective(text);
    if (!objective)
      throw Error("config: objectives: expected metric:max or metric:min, got '" + (item.IsScalar() ? text : std::string("a nested value")) + "'");
    for (const Objective& earlier : objectives)
      if (earlier.metric == objective->metric) throw Error("config: objectives: " + objective->metric + " is listed twice");
    objectives.push_back(*objective);
  }
  return objectives;
}

std::vector<Constraint> read_constraints(const Config& config) {
  std::vector<Constraint> constraints;
  if (!config.has("constraints")) return constraints;
  const Config section = config.child("constraints");
  if (!section.node().IsMap()) throw Error("config: constraints: expected a map such as {flops: {max: 3e8}}");
  for (const auto& item : section.node()) {
    const std::string metric = item.first.as<std::string>();
    const Config limit = section.child(metric);
    if (!limit.node().IsMap()) throw Error("config: constraints." + metric + ": expected {min: .., max: ..}");
    limit.check_keys({"min", "max"});
    Constraint constraint{metric, std::nullopt, std::nullopt};
    if (limit.has("min")) constraint.min = limit.get<double>("min");
    if (limit.has("max")) constraint.max = limit.get<double>("max");
    if (!constraint.min && !constraint.max) throw Error("config: constraints." + metric + ": give min, max or both");
    for (const auto& [key, bound] : {std::pair{"min", constraint.min}, std::pair{"max", constraint.max}})
      if (bound && !std::isfinite(*bound)) throw Error("config: constraints." + metric + "." + key + " must be a finite number");
    if (constraint.min && constraint.max && *constraint.min > *constraint.max)
      throw Error("config: constraints." + metric + ": min is above max");
    constraints.push_back(constraint);
  }
  return constraints;
}

std::optional<double> objective_value(const Evaluation& evaluation, const Objective& objective) {
  if (!evaluation.ok) return std::nullopt;
  auto it = evaluation.metrics.find(objective.metric);
  if (it == evaluation.metrics.end() || !std::isfinite(it->second)) return std::nullopt;
  return it->second;
}

std::string format_duration(double seconds) {
  char buffer[32];
  if (seconds < 120) std::snprintf(buffer, sizeof buffer, "%.0fs", seconds);
  else if (seconds < 7200) std::snprintf(buffer, sizeof buffer, "%.1fm", seconds / 60);
  else std::snprintf(buffer, sizeof buffer, "%.1fh", seconds / 3600);
  return buffer;
}

}  // namespace nascent
