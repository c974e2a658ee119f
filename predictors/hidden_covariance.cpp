// Hidden covariance (Serianni & Kalita, ACL 2023): the H x H Pearson correlation between the
// hidden units of one layer over all batch x position samples, scored by its eigenvalues.
#include "core/error.hpp"
#include "predictors/passes.hpp"

namespace nascent {

namespace {

class HiddenCovariance : public Predictor {
 public:
  HiddenCovariance(std::string name, std::string layer) : name_(std::move(name)), layer_(std::move(layer)) {}
  std::string name() const override { return name_; }

  double score(const ScoreInput& input) const override {
    const std::vector<HiddenState>& hidden = loss_pass(input).hidden;
    if (hidden.empty())
      throw Error("hidden_cov: the network exposes no hidden states (its space must report them with probe_hidden)");
    const HiddenState& state = select(hidden);
    // Units become rows; every other dimension (batch, positions or time) becomes a sample.
    torch::Tensor h = state.value.movedim(state.unit_dim, 0);
    return predictor_detail::eigen_score(predictor_detail::corrcoef(h.reshape({h.size(0), -1})));
  }

 private:
  const HiddenState& select(const std::vector<HiddenState>& hidden) const {
    for (const auto& state : hidden)
      if (state.name == layer_) return state;
    std::string names;
    for (const auto& state : hidden) names += (names.empty() ? "" : ", ") + state.name;
    try {
      std::size_t used = 0;
      const long index = std::stol(layer_, &used);
      const long count = static_cast<long>(hidden.size());
      if (used == layer_.size() && index >= -count && index < count) return hidden[index < 0 ? count + index : index];
    } catch (const std::exception&) {
    }
    throw Error("hidden_cov: no hidden state '" + layer_ + "' (the network has " + std::to_string(hidden.size()) +
                ": " + names + ")");
  }

  std::string name_, layer_;
};

}  // namespace

std::unique_ptr<Predictor> make_hidden_covariance(const std::string& name, const std::string& layer) {
  return std::make_unique<HiddenCovariance>(name, layer);
}

}  // namespace nascent
