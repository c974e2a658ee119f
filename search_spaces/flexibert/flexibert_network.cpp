// FlexiBERT layers (spec B2, after modeling_modular_bert.py): BERT embeddings of the first layer's
// width, heterogeneous encoder layers joined by projections where widths change, a pooler and a
// classifier. Token id 0 is padding: it is masked out of attention and of the pooled mean.
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>

#include "core/error.hpp"
#include "core/network.hpp"
#include "core/probe.hpp"
#include "search_spaces/flexibert/flexibert.hpp"

namespace nascent {

namespace {

constexpr std::int64_t kMaxPositions = 514;  // max_position_embeddings; relative distances index 2*514-1 rows
constexpr double kDropout = 0.1;
constexpr double kNormEps = 1e-12;

std::int64_t conv_heads(const FlexiLayer& layer) { return std::max(1, layer.heads / 2); }

// Unnormalised DCT-II matrix: C[k][n] = 2 cos(pi k (2n + 1) / 2N), as torch-dct's dct(norm=None).
torch::Tensor dct_matrix(std::int64_t n, const torch::TensorOptions& options) {
  torch::Tensor k = torch::arange(n, options).unsqueeze(1);
  torch::Tensor i = torch::arange(n, options).unsqueeze(0);
  return 2.0 * torch::cos(M_PI * k * (2.0 * i + 1.0) / (2.0 * static_cast<double>(n)));
}

// LibTorch's dropout draws from the global generator, which candidates trained in parallel share;
// on the CPU the masks come from the network's own generator instead, so a seed fixes a run.
struct DropoutSource {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
  torch::Tensor apply(const torch::Tensor& x, bool training) {
    if (!training) return x;
    if (!x.is_cpu()) return torch::dropout(x, kDropout, true);
    torch::Tensor keep = torch::rand(x.sizes(), generator, x.options()).ge(kDropout);
    return x * keep.to(x.scalar_type()) / (1.0 - kDropout);
  }
};

class FlexiLayerModule : public torch::nn::Module {
 public:
  FlexiLayerModule(const FlexiLayer& spec, std::int64_t next_hidden, std::shared_ptr<DropoutSource> dropout)
      : spec_(spec), dropout_(std::move(dropout)) {
    const std::int64_t h = spec.hidden;
    head_size_ = h / spec.heads;
    if (spec.op == "c") {
      attention_heads_ = conv_heads(spec);
      kernel_ = std::stoi(spec.param);
      const std::int64_t all = attention_heads_ * head_size_;
      query_ = register_module("query", torch::nn::Linear(h, all));
      key_ = register_module("key", torch::nn::Linear(h, all));
      value_ = register_module("value", torch::nn::Linear(h, all));
      key_depthwise_ = register_module("key_conv_depthwise",
                                       torch::nn::Conv1d(torch::nn::Conv1dOptions(h, h, kernel_).groups(h).padding(kernel_ / 2).bias(false)));
      key_pointwise_ = register_module("key_conv_pointwise", torch::nn::Conv1d(torch::nn::Conv1dOptions(h, all, 1).bias(false)));
      key_conv_bias_ = register_parameter("key_conv_bias", torch::zeros({all, 1}));
      conv_kernel_ = register_module("conv_kernel", torch::nn::Linear(all, attention_heads_ * kernel_));
      conv_out_ = register_module("conv_out", torch::nn::Linear(h, all));
      attention_output_ = register_module("attention_output", torch::nn::Linear(2 * all, h));
    } else {
      attention_heads_ = spec.heads;
      query_ = register_module("query", torch::nn::Linear(h, h));
      key_ = register_module("key", torch::nn::Linear(h, h));
      value_ = register_module("value", torch::nn::Linear(h, h));
      distance_ = register_module("distance", torch::nn::Embedding(2 * kMaxPositions - 1, head_size_));
      if (spec.param == "wma") wma_ = register_parameter("wma", torch::zeros({head_size_, head_size_}));
      attention_output_ = register_module("attention_output", torch::nn::Linear(h, h));
    }
    attention_norm_ = register_module("attention_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h}).eps(kNormEps)));
    std::int64_t width = h;
    for (std::size_t i = 0; i < spec.feed_forward.size(); ++i) {
      feed_forward_.push_back(register_module("ff" + std::to_string(i), torch::nn::Linear(width, spec.feed_forward[i])));
      width = spec.feed_forward[i];
    }
    ff_output_ = register_module("ff_output", torch::nn::Linear(width, h));
    output_norm_ = register_module("output_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h}).eps(kNormEps)));
    if (next_hidden != h) projection_ = register_module("projection", torch::nn::Linear(h, next_hidden));
  }

  // x: B x L x h; mask: B x L (true for real tokens).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask) {
    const bool training = is_training();
    torch::Tensor context = spec_.op == "c" ? convolution_attention(x, mask) : attention(x, mask);
    torch::Tensor attended = attention_norm_(dropout_->apply(probe_linear(attention_output_, context), training) + x);
    torch::Tensor hidden = attended;
    for (auto& layer : feed_forward_) hidden = probe_gelu(probe_linear(layer, hidden));
    torch::Tensor out = output_norm_(dropout_->apply(probe_linear(ff_output_, hidden), training) + attended);
    return projection_ ? probe_linear(projection_, out) : out;
  }

  void add_weights(TransformerWeights& weights) const {
    std::vector<torch::Tensor> heads = {query_->weight, key_->weight, value_->weight};
    if (conv_kernel_) {
      heads.push_back(conv_kernel_->weight);
      heads.push_back(conv_out_->weight);
    }
    weights.heads.insert(weights.heads.end(), heads.begin(), heads.end());
    weights.operation.insert(weights.operation.end(), heads.begin(), heads.end());
    weights.operation.push_back(attention_output_->weight);
    for (const auto& layer : feed_forward_) weights.feed_forward.push_back(layer->weight);
    weights.feed_forward.push_back(ff_output_->weight);
  }

 private:
  torch::Tensor split_heads(const torch::Tensor& x, std::int64_t heads) const {
    // -1 for the batch: a recorded (TorchScript) forward then takes any batch size.
    return x.view({-1, x.size(1), heads, head_size_}).permute({0, 2, 1, 3});
  }
  torch::Tensor merge_heads(const torch::Tensor& x) const {
    return x.permute({0, 2, 1, 3}).contiguous().view({-1, x.size(2), x.size(1) * x.size(3)});
  }
  static torch::Tensor additive_mask(const torch::Tensor& mask, const torch::Tensor& like) {
    return (1.0 - mask.to(like.scalar_type())).mul(-10000.0).unsqueeze(1).unsqueeze(1);
  }

  // sa: content scores (QK^T, or Q W K^T for wma) plus relative-key scores; l: relative-key scores
  // only, plus a DFT or DCT of the input added to the context.
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& mask) {
    const std::int64_t length = x.size(1);
    if (length > kMaxPositions) throw Error("flexibert: sequences longer than 514 tokens are not supported");
    torch::Tensor q = split_heads(probe_head(query_, x), attention_heads_);
    torch::Tensor k = split_heads(probe_head(key_, x), attention_heads_);
    torch::Tensor v = split_heads(probe_head(value_, x), attention_heads_);
    torch::Tensor positions = torch::arange(length, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    torch::Tensor distance = distance_(positions.unsqueeze(1) - positions.unsqueeze(0) + (kMaxPositions - 1));
    torch::Tensor scores = torch::einsum("bhld,lrd->bhlr", {q, distance});
    if (spec_.op == "sa") {
      torch::Tensor content_query = spec_.param == "wma" ? torch::matmul(q, wma_) : q;
      scores = scores + torch::matmul(content_query, k.transpose(-1, -2));
    }
    scores = scores / std::sqrt(static_cast<double>(head_size_)) + additive_mask(mask, scores);
    torch::Tensor probabilities = torch::softmax(scores, -1);
    probe_attention(probabilities);
    probabilities = dropout_->apply(probabilities, is_training());
    torch::Tensor context = merge_heads(torch::matmul(probabilities, v));
    if (spec_.op == "l") {
      // Padding is zeroed first so that it cannot leak into real positions through the transform.
      torch::Tensor input = x * mask.unsqueeze(-1).to(x.scalar_type());
      if (spec_.param == "dft") {
        context = context + torch::real(torch::fft::fft2(input, c10::nullopt, {-2, -1}));
      } else {
        const auto options = x.options();
        context = context + torch::matmul(torch::matmul(dct_matrix(length, options), input), dct_matrix(x.size(2), options).t());
      }
    }
    return context;
  }

  // ConvBERT mixed attention: half the heads attend, the other half is a span-based dynamic
  // convolution whose kernel is predicted per position from the query and a separable-conv key.
  torch::Tensor convolution_attention(const torch::Tensor& x, const torch::Tensor& mask) {
    const std::int64_t length = x.size(1);
    // Padding is zeroed before the convolutions, so that a position next to the padding sees the
    // same zeros as one next to the sequence's end.
    torch::Tensor real = mask.unsqueeze(-1).to(x.scalar_type());
    torch::Tensor mixed_query = probe_head(query_, x);
    torch::Tensor q = split_heads(mixed_query, attention_heads_);
    torch::Tensor k = split_heads(probe_head(key_, x), attention_heads_);
    torch::Tensor v = split_heads(probe_head(value_, x), attention_heads_);
    torch::Tensor key_conv = (key_pointwise_(key_depthwise_((x * real).transpose(1, 2))) + key_conv_bias_).transpose(1, 2);
    torch::Tensor kernel = conv_kernel_(key_conv * mixed_query).reshape({-1, kernel_, 1}).softmax(1);
    torch::Tensor spans = (probe_linear(conv_out_, x) * real).transpose(1, 2).unsqueeze(-1);
    spans = torch::nn::functional::unfold(
        spans, torch::nn::functional::UnfoldFuncOptions({kernel_, 1}).padding({(kernel_ - 1) / 2, 0}));
    spans = spans.transpose(1, 2).reshape({-1, head_size_, kernel_});
    torch::Tensor convolved = torch::matmul(spans, kernel).reshape({-1, length, conv_out_->options.out_features()});

    torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_size_));
    scores = scores + additive_mask(mask, scores);
    torch::Tensor probabilities = torch::softmax(scores, -1);
    probe_attention(probabilities);
    probabilities = dropout_->apply(probabilities, is_training());
    torch::Tensor context = merge_heads(torch::matmul(probabilities, v));
    return torch::cat({context, convolved}, -1);
  }

  FlexiLayer spec_;
  std::shared_ptr<DropoutSource> dropout_;
  std::int64_t head_size_ = 0, attention_heads_ = 0, kernel_ = 0;
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, attention_output_{nullptr};
  torch::nn::Embedding distance_{nullptr};
  torch::Tensor wma_, key_conv_bias_;
  torch::nn::Conv1d key_depthwise_{nullptr}, key_pointwise_{nullptr};
  torch::nn::Linear conv_kernel_{nullptr}, conv_out_{nullptr};
  torch::nn::LayerNorm attention_norm_{nullptr}, output_norm_{nullptr};
  std::vector<torch::nn::Linear> feed_forward_;
  torch::nn::Linear ff_output_{nullptr}, projection_{nullptr};
};

class FlexibertNetwork : public Network {
 public:
  FlexibertNetwork(const FlexiModel& model, std::int64_t vocabulary_size, std::int64_t num_classes) {
    const std::int64_t first = model.front().hidden, last = model.back().hidden;
    word_ = register_module("word_embeddings", torch::nn::Embedding(vocabulary_size, first));
    embedding_norm_ = register_module("embedding_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({first}).eps(kNormEps)));
    for (std::size_t i = 0; i < model.size(); ++i) {
      const std::int64_t next = i + 1 < model.size() ? model[i + 1].hidden : model[i].hidden;
      layers_.push_back(register_module("layer" + std::to_string(i), std::make_shared<FlexiLayerModule>(model[i], next, dropout_)));
    }
    pooler_ = register_module("pooler", torch::nn::Linear(last, last));
    classifier_ = register_module("classifier", torch::nn::Linear(last, num_classes));
  }

  torch::Tensor forward(torch::Tensor tokens) override {
    torch::Tensor hidden = token_features(tokens);
    torch::Tensor mask = tokens.ne(0).unsqueeze(-1).to(hidden.scalar_type());
    // Glosses have no [CLS] token: the pooler reads the mean over real tokens instead.
    torch::Tensor pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0);
    pooled = dropout_->apply(torch::tanh(probe_linear(pooler_, pooled)), is_training());
    return probe_linear(classifier_, pooled);
  }

  torch::Tensor token_features(torch::Tensor tokens) override { return features_of_embedded(embedded(tokens), tokens); }

  torch::Tensor embedded(torch::Tensor tokens) override {
    if (tokens.dim() != 2 || tokens.scalar_type() != torch::kLong)
      throw Error("flexibert: expected token ids (int64, batch x length), got a tensor of " + std::to_string(tokens.dim()) + " dimensions");
    return word_(tokens);
  }

  torch::Tensor features_of_embedded(torch::Tensor embedded, torch::Tensor tokens) override {
    torch::Tensor mask = tokens.ne(0);
    torch::Tensor hidden = dropout_->apply(embedding_norm_(embedded), is_training());
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      hidden = layers_[i]->forward(hidden, mask);
      probe_hidden("layer" + std::to_string(i), hidden, 2);
    }
    return hidden;
  }

  TransformerWeights transformer_weights() override {
    TransformerWeights weights;
    for (const auto& layer : layers_) layer->add_weights(weights);
    return weights;
  }

  // BERT's initialisation: N(0, 0.02) weights, zero biases, unit LayerNorms; wma's W ~ U(-0.1, 0.1).
  void reset_parameters(at::Generator& generator) override {
    torch::NoGradGuard no_grad;
    const auto dropout_seed = torch::randint(std::numeric_limits<std::int64_t>::max(), {1}, generator, torch::kLong).item<std::int64_t>();
    dropout_->generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(dropout_seed));
    for (auto& item : named_parameters()) {
      const std::string& name = item.key();
      torch::Tensor& p = item.value();
      const bool norm = name.find("norm.") != std::string::npos;
      if (name.size() >= 3 && name.compare(name.size() - 3, 3, "wma") == 0) p.uniform_(-0.1, 0.1, generator);
      else if (norm) p.fill_(name.compare(name.size() - 6, 6, "weight") == 0 ? 1.0 : 0.0);
      else if (p.dim() >= 2 && name.find("key_conv_bias") == std::string::npos) p.normal_(0.0, 0.02, generator);
      else p.zero_();
    }
  }

 private:
  std::shared_ptr<DropoutSource> dropout_ = std::make_shared<DropoutSource>();
  torch::nn::Embedding word_{nullptr};
  torch::nn::LayerNorm embedding_norm_{nullptr};
  std::vector<std::shared_ptr<FlexiLayerModule>> layers_;
  torch::nn::Linear pooler_{nullptr}, classifier_{nullptr};
};

void add_linear(std::vector<std::pair<std::string, std::vector<std::int64_t>>>& shapes, const std::string& name,
                std::int64_t in, std::int64_t out) {
  shapes.push_back({name + ".weight", {out, in}});
  shapes.push_back({name + ".bias", {out}});
}

}  // namespace

// Names and shapes of the parameters FlexibertNetwork registers, from the model alone.
std::vector<std::pair<std::string, std::vector<std::int64_t>>> flexibert_parameter_shapes(
    const FlexiModel& model, std::int64_t vocabulary_size, std::int64_t num_classes) {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes;
  const std::int64_t first = model.front().hidden, last = model.back().hidden;
  shapes.push_back({"word_embeddings.weight", {vocabulary_size, first}});
  shapes.push_back({"embedding_norm.weight", {first}});
  shapes.push_back({"embedding_norm.bias", {first}});
  for (std::size_t i = 0; i < model.size(); ++i) {
    const FlexiLayer& layer = model[i];
    const std::string prefix = "layer" + std::to_string(i) + ".";
    const std::int64_t h = layer.hidden, head_size = h / layer.heads;
    if (layer.op == "c") {
      const std::int64_t all = conv_heads(layer) * head_size, kernel = std::stoi(layer.param);
      for (const char* name : {"query", "key", "value"}) add_linear(shapes, prefix + name, h, all);
      shapes.push_back({prefix + "key_conv_bias", {all, 1}});
      shapes.push_back({prefix + "key_conv_depthwise.weight", {h, 1, kernel}});
      shapes.push_back({prefix + "key_conv_pointwise.weight", {all, h, 1}});
      add_linear(shapes, prefix + "conv_kernel", all, conv_heads(layer) * kernel);
      add_linear(shapes, prefix + "conv_out", h, all);
      add_linear(shapes, prefix + "attention_output", 2 * all, h);
    } else {
      for (const char* name : {"query", "key", "value"}) add_linear(shapes, prefix + name, h, h);
      if (layer.param == "wma") shapes.push_back({prefix + "wma", {head_size, head_size}});
      shapes.push_back({prefix + "distance.weight", {2 * kMaxPositions - 1, head_size}});
      add_linear(shapes, prefix + "attention_output", h, h);
    }
    shapes.push_back({prefix + "attention_norm.weight", {h}});
    shapes.push_back({prefix + "attention_norm.bias", {h}});
    std::int64_t width = h;
    for (std::size_t j = 0; j < layer.feed_forward.size(); ++j) {
      add_linear(shapes, prefix + "ff" + std::to_string(j), width, layer.feed_forward[j]);
      width = layer.feed_forward[j];
    }
    add_linear(shapes, prefix + "ff_output", width, h);
    shapes.push_back({prefix + "output_norm.weight", {h}});
    shapes.push_back({prefix + "output_norm.bias", {h}});
    if (i + 1 < model.size() && model[i + 1].hidden != h) add_linear(shapes, prefix + "projection", h, model[i + 1].hidden);
  }
  add_linear(shapes, "pooler", last, last);
  add_linear(shapes, "classifier", last, num_classes);
  return shapes;
}

std::int64_t flexibert_parameter_count(const FlexiModel& model, std::int64_t vocabulary_size, std::int64_t num_classes) {
  std::int64_t total = 0;
  for (const auto& [name, shape] : flexibert_parameter_shapes(model, vocabulary_size, num_classes)) {
    std::int64_t size = 1;
    for (std::int64_t d : shape) size *= d;
    total += size;
  }
  return total;
}

namespace {

// BERT's WordPiece vocabulary when the task names none.
std::int64_t task_vocabulary(const Task& task) { return token_vocabulary(task, "flexibert", 30522); }

}  // namespace

std::shared_ptr<Network> FlexibertSpace::build(const std::string& arch, const Task& task) const {
  const std::int64_t vocabulary = task_vocabulary(task);
  if (task.input_shape[0] > kMaxPositions) throw Error("flexibert: sequences longer than 514 tokens are not supported");
  return std::make_shared<FlexibertNetwork>(parse_flexibert(arch, design_), vocabulary, task.num_classes);
}

// Multiply-accumulates per sequence of length L, counting the DFT and DCT as the dense transforms
// they equal and the relative-key scores like content scores.
Description FlexibertSpace::describe(const std::string& arch, const Task& task) const {
  const FlexiModel model = parse_flexibert(arch, design_);
  const std::int64_t vocabulary = task_vocabulary(task);
  const double length = static_cast<double>(task.input_shape[0]);
  Description description;
  description.params = static_cast<double>(flexibert_parameter_count(model, vocabulary, task.num_classes));
  double macs = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const FlexiLayer& layer = model[i];
    const double h = layer.hidden, head_size = h / layer.heads;
    if (layer.op == "c") {
      const double all = conv_heads(layer) * head_size, kernel = std::stod(layer.param);
      macs += length * (4 * h * all + h * kernel + all * conv_heads(layer) * kernel + all * kernel + 2 * all * h);
      macs += 2 * length * length * all;
    } else {
      macs += length * 4 * h * h + 2 * length * length * h;  // Q, K, V, output; relative scores and AV
      if (layer.op == "sa") macs += length * length * h + (layer.param == "wma" ? length * layer.heads * head_size * head_size : 0);
      else macs += length * h * (length + h);
    }
    double width = h;
    for (int f : layer.feed_forward) {
      macs += length * width * f;
      width = f;
    }
    macs += length * width * h;
    if (i + 1 < model.size() && model[i + 1].hidden != layer.hidden) macs += length * h * model[i + 1].hidden;
  }
  macs += static_cast<double>(model.back().hidden) * (model.back().hidden + task.num_classes);
  description.flops = macs;
  description.graph = graph(arch);
  description.extra["layers"] = static_cast<double>(model.size());
  return description;
}

double FlexibertSpace::weight_overlap(const std::string& target, const std::string& source) const {
  // Vocabulary and classes are the same for both within a run, so any placeholder values compare alike.
  const auto target_shapes = flexibert_parameter_shapes(parse_flexibert(target, design_), 2, 2);
  const auto source_list = flexibert_parameter_shapes(parse_flexibert(source, design_), 2, 2);
  std::map<std::string, std::vector<std::int64_t>> source_shapes(source_list.begin(), source_list.end());
  std::size_t copied = 0;
  for (const auto& [name, shape] : target_shapes) {
    auto found = source_shapes.find(name);
    copied += found != source_shapes.end() && found->second == shape;
  }
  return static_cast<double>(copied) / static_cast<double>(target_shapes.size());
}

}  // namespace nascent
