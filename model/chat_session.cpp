#include "model/chat_session.h"

#include "model/model_impl.h"

namespace smolvk {

struct ChatSession::State {
  KvCache kv;
};

ChatSession::ChatSession(Model& model, int64_t capacity) : model_(model), state_(std::make_unique<State>()) {
  const auto& t = model.config().text;
  if (capacity <= 0) capacity = std::min<int64_t>(t.max_position_embeddings, 4096);
  state_->kv = make_kv_cache(model.context(), model.config(), 1, capacity);
}
ChatSession::~ChatSession() = default;

int64_t ChatSession::capacity() const { return state_->kv.capacity; }

void ChatSession::reset() {
  length_ = 0;
  pending_.reset();
  last_stopped_on_eos_ = true;
}

Result ChatSession::send(const std::string& text, const std::vector<Image>& images, const GenerateOptions& o,
                         const TokenCallback& on_token) {
  Model::Impl& I = model_.impl();
  ChatMessage user{"user", {}};
  for (size_t i = 0; i < images.size(); ++i) user.content.push_back({ChatItem::Image, {}});
  user.content.push_back({ChatItem::Text, text});
  std::string turn = I.chat_template.apply(std::span<const ChatMessage>(&user, 1), true);
  if (length_ > 0) {
    // The template's prefix opens the conversation once; each message ends with
    // kEndOfUtterance and a newline, and the last answer's end-of-utterance is the pending token.
    turn = turn.substr(I.chat_template.prefix().size());
    turn = (last_stopped_on_eos_ ? "\n" : std::string(kEndOfUtterance) + "\n") + turn;
  }
  Request req;
  req.prompt_text = turn;
  req.images = images;
  PreparedRequest p = model_.prepare(req);
  if (length_ > 0) {
    auto bos = I.tokenizer.bos_prefix();
    if (!bos.empty() && p.input_ids.size() >= bos.size() && std::equal(bos.begin(), bos.end(), p.input_ids.begin()))
      p.input_ids.erase(p.input_ids.begin(), p.input_ids.begin() + std::ptrdiff_t(bos.size()));
  }
  if (pending_) p.input_ids.insert(p.input_ids.begin(), *pending_);
  std::vector<PreparedRequest> prepared{std::move(p)};
  Request shape;  // only tells run() that this is not an embeddings request
  auto results = I.run(std::span<const Request>(&shape, 1), prepared, &state_->kv, length_, o, on_token);
  Result r = std::move(results.front());
  length_ += int64_t(prepared[0].input_ids.size()) + int64_t(r.output_ids.size()) - 1;
  pending_ = r.output_ids.empty() ? std::nullopt : std::optional<int32_t>(r.output_ids.back());
  last_stopped_on_eos_ = r.stop_reason == "eos";
  return r;
}

}  // namespace smolvk
