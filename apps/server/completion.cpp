// POST /v1/chat/completions: parse, prepare (chat template, image tiles, token ids) on the HTTP
// thread, submit to the scheduler, answer with one JSON object or a server-sent event stream.
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "apps/server/server.h"
#include "loader/error.h"

namespace smolvk::serve {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The prompt's token ids and pixel values (what generate() would compute itself), so the
// prompt length is known before the request is queued and the CPU work stays on this thread.
Job make_job(const Model& model, ChatRequest&& cr, int default_max_tokens, int64_t context) {
  Request r;
  r.messages = std::move(cr.messages);
  r.images = std::move(cr.images);
  r.videos = std::move(cr.videos);
  PreparedRequest p;
  try {
    p = model.prepare(r);
  } catch (const std::invalid_argument& e) {
    throw RequestError("messages", "invalid_value", std::string("'messages': ") + e.what());
  } catch (const LoadError& e) {
    throw RequestError("messages", "invalid_value", std::string("'messages': ") + e.what());
  }
  const int64_t prompt = int64_t(p.input_ids.size());
  if (cr.max_tokens && prompt + *cr.max_tokens > context)
    throw RequestError("max_tokens", "context_length_exceeded",
                       "the prompt's " + std::to_string(prompt) + " tokens + max_tokens " +
                           std::to_string(*cr.max_tokens) + " exceed the context of " + std::to_string(context) +
                           " tokens");
  if (prompt >= context)
    throw RequestError("messages", "context_length_exceeded",
                       "the prompt's " + std::to_string(prompt) + " tokens (images included) fill the context of " +
                           std::to_string(context) + " tokens");
  Job job;
  job.prompt_tokens = int(prompt);
  job.max_tokens = cr.max_tokens.value_or(int(std::min<int64_t>(default_max_tokens, context - prompt)));
  job.sampling = {cr.temperature, cr.top_k, cr.top_p, cr.seed};
  job.ignore_eos = cr.ignore_eos;
  job.stop = std::move(cr.stop);
  job.request.prompt_ids = std::move(p.input_ids);
  job.request.pixel_values = std::move(p.pixel_values);
  job.request.pixel_bytes = std::move(p.pixel_bytes);
  job.request.pixel_mask = std::move(p.pixel_mask);
  job.request.tile_height = p.tile_height;
  job.request.tile_width = p.tile_width;
  return job;
}

json usage(int prompt, int completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

struct Answer {
  std::string id, model;
  int64_t created = std::time(nullptr);
  json chunk(json delta, json finish_reason) const {
    return {{"id", id},
            {"object", "chat.completion.chunk"},
            {"created", created},
            {"model", model},
            {"choices", json::array({{{"index", 0},
                                      {"delta", std::move(delta)},
                                      {"logprobs", nullptr},
                                      {"finish_reason", std::move(finish_reason)}}})}};
  }
};

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

ApiError failed(const Event& e) { return {500, "generation failed: " + e.error, "server_error", "", ""}; }
ApiError cancelled() {
  return {503, "the request was cancelled: the server is shutting down", "server_error", "", "cancelled"};
}

}  // namespace

void Server::handle_chat(const httplib::Request& req, httplib::Response& res) {
  if (state_ != State::Ready) {
    send_error(res, {503,
                     state_ == State::Loading ? "the model is still loading: retry when /health answers 200"
                                              : "the server is shutting down",
                     "server_error", "", "unavailable"});
    res.set_header("Retry-After", "1");
    return;
  }
  try {
    const auto start = std::chrono::steady_clock::now();
    std::shared_ptr<void> preparing = scheduler_->preparing();  // until submitted or refused
    ChatRequest cr = parse_chat_request(req.body, limits_);
    const bool stream = cr.stream, include_usage = cr.include_usage;
    Job job = make_job(*model_, std::move(cr), options_.default_max_tokens, limits_.context_length);
    metrics_.prepared(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const int prompt_tokens = job.prompt_tokens;
    auto s = scheduler_->submit(std::move(job));
    preparing.reset();
    const std::string id = id_prefix_ + std::to_string(next_id_++);
    ++in_flight_;  // until the answer is written: here, or in the stream's releaser
    if (stream) {
      respond_stream(s, id, prompt_tokens, include_usage, res);
    } else {
      respond_whole(s, id, prompt_tokens, res);
      --in_flight_;
    }
  } catch (const RequestError& e) {
    send_error(res, e.error());
  } catch (const Rejected& e) {
    send_error(res, {e.status(), e.what(), e.status() == 429 ? "rate_limit_error" : "server_error", "",
                     e.status() == 429 ? "queue_full" : "unavailable"});
    res.set_header("Retry-After", "1");
  }
}

void Server::respond_whole(const std::shared_ptr<Stream>& stream, const std::string& id, int prompt_tokens,
                           httplib::Response& res) {
  std::string text, finish;
  std::vector<int32_t> ids;
  while (finish.empty()) {
    for (Event& e : stream->wait(std::chrono::seconds(1))) {
      if (e.kind == Event::Failed) return send_error(res, failed(e));
      text += e.text;
      if (e.kind == Event::Token)
        ids.push_back(e.id);
      else
        finish = e.finish_reason;
    }
  }
  if (finish == "cancelled") return send_error(res, cancelled());
  const Answer a{id, options_.model_id};
  json out = {{"id", a.id},
              {"object", "chat.completion"},
              {"created", a.created},
              {"model", a.model},
              {"choices", json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", text}}},
                                        {"logprobs", nullptr},
                                        {"finish_reason", finish}}})},
              {"usage", usage(prompt_tokens, int(ids.size()))},
              {"smolvk", {{"token_ids", ids}}}};
  res.set_content(dump(out), "application/json");
}

void Server::respond_stream(const std::shared_ptr<Stream>& stream, const std::string& id, int prompt_tokens,
                            bool include_usage, httplib::Response& res) {
  struct State {
    std::shared_ptr<Stream> stream;
    Answer answer;
    bool started = false, finished = false;
    int tokens = 0;
  };
  auto st = std::make_shared<State>(State{stream, {id, options_.model_id}});
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // nginx: pass each event on as it comes
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, st, prompt_tokens, include_usage](size_t, httplib::DataSink& sink) {
        auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
        auto gone = [&] {  // the client disconnected: its row stops getting tokens
          scheduler_->cancel(st->stream);
          st->finished = true;
          return false;
        };
        const Answer& a = st->answer;
        if (!st->started) {
          st->started = true;
          if (!write(sse(a.chunk({{"role", "assistant"}, {"content", ""}}, nullptr)))) return gone();
        }
        const std::vector<Event> events = st->stream->wait(std::chrono::seconds(1));
        if (events.empty()) return write(": waiting\n\n") ? true : gone();  // notices a client gone while queued
        for (const Event& e : events) {
          if (e.kind == Event::Token) {
            ++st->tokens;
            json c = a.chunk({{"content", e.text}}, nullptr);
            c["smolvk"] = {{"token_ids", {e.id}}};
            if (!write(sse(c))) return gone();
            continue;
          }
          st->finished = true;
          if (e.kind == Event::Done && e.finish_reason == "cancelled") return false;
          std::string tail;
          if (e.kind == Event::Failed) {
            tail = sse(json::parse(failed(e).to_json()));
          } else {
            if (!e.text.empty()) tail += sse(a.chunk({{"content", e.text}}, nullptr));
            tail += sse(a.chunk(json::object(), e.finish_reason));
            if (include_usage) {
              json u = a.chunk(json::object(), nullptr);
              u["choices"] = json::array();
              u["usage"] = usage(prompt_tokens, st->tokens);
              tail += sse(u);
            }
          }
          tail += "data: [DONE]\n\n";
          write(tail);
          sink.done();
          return true;
        }
        return true;
      },
      [this, st](bool) {
        if (!st->finished) scheduler_->cancel(st->stream);
        --in_flight_;
      });
}

}  // namespace smolvk::serve
