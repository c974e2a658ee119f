#include "predictors/predictor.hpp"

#include <chrono>
#include <cmath>

#include "core/error.hpp"
#include "core/registry.hpp"
#include "predictors/passes.hpp"

namespace nascent {

std::unique_ptr<Predictor> make_zero_cost_predictor(const std::string& name);
std::unique_ptr<Predictor> make_hidden_covariance(const std::string& name, const std::string& layer);
std::unique_ptr<Predictor> make_lga(int warmup_steps, double warmup_lr, bool batch_statistics);
std::unique_ptr<Predictor> make_transformer_metric(const std::string& name);
std::vector<std::pair<std::string, std::string>> transformer_metric_names();

torch::Tensor cross_entropy_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return torch::nn::functional::cross_entropy(logits, labels);
}

ScoreInput::ScoreInput(Network& network_, torch::Tensor inputs_, torch::Tensor labels_, Rng& rng_, LossFunction loss_)
    : network(network_), inputs(std::move(inputs_)), labels(std::move(labels_)), rng(rng_), loss(std::move(loss_)) {}

std::vector<std::string> transformer_predictor_names() {
  std::vector<std::string> names;
  for (const auto& entry : transformer_metric_names()) names.push_back(entry.first);
  return names;
}

std::vector<std::string> predictor_names() {
  return {"grad_norm", "snip",    "grasp",   "fisher", "jacob_cov", "synflow", "nwot",      "zen",
          "epe_nas",   "l2_norm", "plain",   "params", "flops",     "hidden_cov", "lga"};
}

namespace {

const char* kWeightDoc = "the metric's weight in a combined score (training-free search)";

}  // namespace

void register_builtin_predictors(Registries& registries) {
  for (const auto& name : predictor_names()) {
    if (name == "hidden_cov" || name == "lga") continue;
    registries.predictors.add(name, "zero-cost proxy " + name, OptionTable().optional("weight", OptionType::Number, kWeightDoc),
                              [name](const Options&) { return make_zero_cost_predictor(name); });
  }
  for (const auto& [name, summary] : transformer_metric_names())
    registries.predictors.add(name, summary, OptionTable().optional("weight", OptionType::Number, kWeightDoc),
                              [name = name](const Options&) { return make_transformer_metric(name); });
  registries.predictors.add(
      "hidden_cov", "hidden covariance: correlations of a layer's hidden states over a batch (name@layer picks the layer too)",
      OptionTable().text("layer", "-1", "the layer whose hidden states are scored (negative: from the end)").optional("weight", OptionType::Number, kWeightDoc),
      [](const Options& options) { return make_hidden_covariance("hidden_cov", options.get<std::string>("layer")); });
  registries.predictors.add("lga", "label-gradient alignment after optional warm-up steps",
                            OptionTable()
                                .integer("warmup_steps", 30, "SGD steps on the batch before scoring (docs/benchmarks.md: LGA warm-up)").at_least(0)
                                .number("warmup_lr", 0.01, "warm-up learning rate").at_least(0)
                                .flag("batch_statistics", true, "one forward pass of the batch (BatchNorm on its statistics, TE-NAS's form); false: a pass per sample, "
                                      "which with warmup_steps 0 ranked full-size NAS-Bench-201 cells better at a fortieth of the cost")
                                .optional("weight", OptionType::Number, kWeightDoc),
                            [](const Options& options) {
                              return make_lga(options.get<int>("warmup_steps"), options.get<double>("warmup_lr"),
                                              options.get<bool>("batch_statistics"));
                            });
}

std::unique_ptr<Predictor> make_predictor(const std::string& name, const Config& options) {
  const std::size_t at = name.find('@');
  const std::string base = name.substr(0, at);
  auto& predictors = registries().predictors;
  if (!predictors.contains(base)) {
    // The zero-cost table also answers to the reference code's spellings (jacov for jacob_cov).
    if (auto alias = at == std::string::npos ? make_zero_cost_predictor(base) : nullptr) {
      OptionTable().optional("weight", OptionType::Number, kWeightDoc).read(options, "predictor " + base);
      return alias;
    }
    throw Error("unknown predictor '" + name + "' (known: " + predictors.names() + ")");
  }
  if (at == std::string::npos) return predictors.create(base, options);
  if (base != "hidden_cov") throw Error("predictor '" + name + "': only hidden_cov takes a layer after '@'");
  predictors.at(base).options.read(options, "predictor " + base);
  if (name.size() == at + 1) throw Error("predictor '" + name + "': empty layer after '@'");
  return make_hidden_covariance(name, name.substr(at + 1));
}

namespace {

// The state a predictor may change: parameter and buffer values, dtype, and train/eval mode.
class SavedState {
 public:
  explicit SavedState(Network& net) : net_(net), training_(net.is_training()) {
    torch::NoGradGuard no_grad;
    for (auto& p : net.parameters()) saved_.push_back({p, p.detach().clone()});
    for (auto& b : net.buffers()) saved_.push_back({b, b.detach().clone()});
  }
  void restore() {
    torch::NoGradGuard no_grad;
    if (!saved_.empty() && saved_.front().first.dtype() != saved_.front().second.dtype())
      net_.to(saved_.front().second.scalar_type());
    for (auto& [live, copy] : saved_) {
      if (live.dtype() != copy.dtype()) live.set_data(copy.clone());
      else live.copy_(copy);
    }
    predictor_detail::clear_gradients(net_);
    net_.train(training_);
  }

 private:
  Network& net_;
  bool training_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> saved_;
};

}  // namespace

PredictorScores score_predictors(const std::vector<const Predictor*>& predictors, ScoreInput& input) {
  PredictorScores result;
  input.cache = std::make_shared<PassCache>();
  SavedState saved(input.network);
  for (const Predictor* predictor : predictors) {
    const auto start = std::chrono::steady_clock::now();
    double value = predictor_detail::nan();
    try {
      value = predictor->score(input);
    } catch (const c10::Error& error) {
      std::string message = error.what_without_backtrace();
      result.errors[predictor->name()] = message.substr(0, message.find('\n'));
    } catch (const std::exception& error) {
      result.errors[predictor->name()] = error.what();
    }
    saved.restore();
    result.scores[predictor->name()] = value;
    result.milliseconds[predictor->name()] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  return result;
}

PredictorScores score_architecture(const SearchSpace& space, const std::string& arch, const Task& task,
                                   std::uint64_t seed, const std::vector<const Predictor*>& predictors,
                                   const torch::Tensor& inputs, const torch::Tensor& labels, const std::string& device) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::shared_ptr<Network> net = space.build(arch, task);
  net->reset_parameters(generator);
  net->to(torch::Device(device));
  Rng rng(seed);
  ScoreInput input(*net, inputs, labels, rng);
  try {
    input.flops = space.describe(arch, task).flops;
  } catch (const std::exception&) {
    // Only the flops predictor needs it; it reports the missing value itself.
  }
  return score_predictors(predictors, input);
}

namespace predictor_detail {

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

void clear_gradients(torch::nn::Module& network) {
  for (auto& p : network.parameters()) p.mutable_grad() = torch::Tensor();
}

std::vector<torch::Tensor> weighted_layer_weights(torch::nn::Module& network) {
  std::vector<torch::Tensor> weights;
  for (auto& module : network.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) weights.push_back(conv->weight);
    else if (auto* conv1 = module->as<torch::nn::Conv1d>()) weights.push_back(conv1->weight);
    else if (auto* linear = module->as<torch::nn::Linear>()) weights.push_back(linear->weight);
  }
  return weights;
}

torch::Tensor corrcoef(const torch::Tensor& x) {
  torch::Tensor centred = x.to(torch::kDouble);
  centred = centred - centred.mean(1, /*keepdim=*/true);
  torch::Tensor cov = centred.matmul(centred.t());
  torch::Tensor d = cov.diagonal().sqrt();
  return (cov / d.unsqueeze(1) / d.unsqueeze(0)).clamp(-1, 1);
}

double eigen_score(const torch::Tensor& correlation) {
  // clamp() keeps NaN, so a constant unit or sample (zero variance) is detected here.
  if (!torch::isfinite(correlation).all().item<bool>()) return nan();
  torch::Tensor eigenvalues = torch::linalg::eigvalsh(correlation, "L");
  const double k = 1e-5;
  return -(torch::log(eigenvalues + k) + 1.0 / (eigenvalues + k)).sum().item<double>();
}

}  // namespace predictor_detail

}  // namespace nascent
