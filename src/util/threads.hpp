#pragma once

#include <functional>
#include <thread>

namespace bm {

// Starts a helper thread with every signal blocked: interrupts and SIGCHLD belong to the event
// loop's signalfd, and one delivered to a helper thread would take its default action there.
std::thread start_signal_free_thread(std::function<void()> body);

} // namespace bm
