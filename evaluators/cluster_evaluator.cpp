#include "evaluators/cluster_evaluator.hpp"

#include <ATen/Parallel.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/cluster.hpp"
#include "core/error.hpp"

namespace nascent {

namespace {

using Json = nlohmann::json;

// The processes free to take a job: 1 .. size-1, shared by every stand-in of this process.
class FreeProcesses {
 public:
  int acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!filled_) {
      for (int process = cluster::size() - 1; process >= 1; --process) free_.push_back(process);
      filled_ = true;
    }
    available_.wait(lock, [&] { return !free_.empty(); });
    const int process = free_.back();
    free_.pop_back();
    return process;
  }
  void release(int process) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      free_.push_back(process);
    }
    available_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<int> free_;
  bool filled_ = false;
};

FreeProcesses& free_processes() {
  static FreeProcesses processes;
  return processes;
}

Json binary(const std::string& bytes) { return Json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end())); }
std::string bytes_of(const Json& value) {
  const auto& data = value.get_binary();
  return std::string(data.begin(), data.end());
}

// MessagePack keeps doubles exactly, NaN and infinities included.
Json to_json(const Evaluation& e, const std::string& state) {
  Json metrics = Json::object();
  for (const auto& [name, value] : e.metrics) metrics[name] = value;
  return Json{{"ok", e.ok}, {"oom", e.out_of_memory}, {"error", e.error}, {"metrics", metrics}, {"cost", e.cost}, {"seconds", e.seconds}, {"device", e.device},
              {"state", binary(state)}};
}

Evaluation from_json(const Json& j, std::string* state) {
  Evaluation e;
  e.ok = j.at("ok").get<bool>();
  e.out_of_memory = j.at("oom").get<bool>();
  e.error = j.at("error").get<std::string>();
  for (const auto& [name, value] : j.at("metrics").items()) e.metrics[name] = value.get<double>();
  e.cost = j.at("cost").get<double>();
  e.seconds = j.at("seconds").get<double>();
  e.device = j.at("device").get<std::string>();
  if (state) *state = bytes_of(j.at("state"));
  return e;
}

Evaluation call(const Json& job, std::string* state) {
  const int process = free_processes().acquire();
  std::string reply;
  try {
    cluster::send(process, cluster::kJobTag, [&] {
      const std::vector<std::uint8_t> packed = Json::to_msgpack(job);
      return std::string(packed.begin(), packed.end());
    }());
    reply = cluster::receive(process, cluster::kResultTag);
  } catch (...) {
    free_processes().release(process);
    throw;
  }
  free_processes().release(process);
  return from_json(Json::from_msgpack(reply), state);
}

}  // namespace

Evaluation ClusterEvaluator::evaluate(const SearchSpace&, const std::string& arch, std::uint64_t seed) {
  return call(Json{{"section", section_}, {"kind", "evaluate"}, {"arch", arch}, {"seed", seed}}, nullptr);
}

Evaluation ClusterEvaluator::evaluate_for(const SearchSpace&, const std::string& arch, std::uint64_t seed, std::int64_t epochs,
                                          std::int64_t schedule_epochs, const std::string& resume_state, std::string& state) {
  return call(Json{{"section", section_},
                   {"kind", "evaluate_for"},
                   {"arch", arch},
                   {"seed", seed},
                   {"epochs", epochs},
                   {"schedule_epochs", schedule_epochs},
                   {"state", binary(resume_state)}},
              &state);
}

std::unique_ptr<ClusterEvaluator> distributed(const std::string& section, const Evaluator& local) {
  if (cluster::size() <= 1 || cluster::rank() != 0) return nullptr;
  return std::make_unique<ClusterEvaluator>(section, local.name());
}

void serve_evaluations(const ServeSettings& settings) {
  at::set_num_threads(settings.threads);
  std::map<std::string, std::unique_ptr<Evaluator>> evaluators;
  while (true) {
    const std::string message = cluster::receive(0, cluster::kJobTag);
    if (message.empty()) return;  // process 0 is done
    Evaluation result;
    std::string state;
    try {
      const Json job = Json::from_msgpack(message);
      const std::string section = job.at("section").get<std::string>();
      auto& evaluator = evaluators[section];
      if (!evaluator)
        evaluator = make_evaluator(settings.config->child(section),
                                   EvaluatorContext{settings.config_dir, settings.threads, settings.device, settings.space});
      const std::string arch = job.at("arch").get<std::string>();
      const auto seed = job.at("seed").get<std::uint64_t>();
      if (job.at("kind") == "evaluate_for") {
        auto* staged = dynamic_cast<TrainsInStages*>(evaluator.get());
        if (!staged) throw Error("evaluator " + evaluator->name() + " cannot train in installments");
        result = staged->evaluate_for(*settings.space, arch, seed, job.at("epochs").get<std::int64_t>(),
                                      job.at("schedule_epochs").get<std::int64_t>(), bytes_of(job.at("state")), state);
      } else {
        result = evaluator->evaluate(*settings.space, arch, seed);
      }
    } catch (const std::exception& error) {
      result = failed_evaluation(error);
    }
    const std::vector<std::uint8_t> packed = Json::to_msgpack(to_json(result, state));
    cluster::send(0, cluster::kResultTag, std::string(packed.begin(), packed.end()));
  }
}

}  // namespace nascent
