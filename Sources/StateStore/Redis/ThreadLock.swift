#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex, for state shared between dedicated OS threads and async callers.
///
/// Used together with ``ThreadCondition``, which Swift's `Synchronization.Mutex` cannot
/// provide. Never held across blocking I/O.
///
/// `@unchecked Sendable` is safe: the mutex lives in memory allocated once and never moved,
/// and pthread mutexes are designed to be used from any thread.
final class ThreadLock: @unchecked Sendable {
    let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func lock() {
        pthread_mutex_lock(mutex)
    }

    func unlock() {
        pthread_mutex_unlock(mutex)
    }
}

/// A pthread condition variable whose timed waits use the monotonic clock, so a wall-clock
/// change neither cuts a wait short nor stretches it.
///
/// `@unchecked Sendable` is safe for the same reason as ``ThreadLock``: fixed memory and a
/// primitive built for use across threads. Every wait must hold the ``ThreadLock`` passed in.
final class ThreadCondition: @unchecked Sendable {
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deinitialize(count: 1)
        condition.deallocate()
    }

    /// Waits until signalled (or a spurious wakeup); `lock` must be held.
    func wait(_ lock: ThreadLock) {
        pthread_cond_wait(condition, lock.mutex)
    }

    /// Waits until signalled, a spurious wakeup, or `timeout` has passed; `lock` must be held.
    func wait(_ lock: ThreadLock, timeout: Duration) {
        guard timeout > .zero else { return }
        let (seconds, attoseconds) = timeout.components
        #if canImport(Darwin)
        var relative = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        pthread_cond_timedwait_relative_np(condition, lock.mutex, &relative)
        #else
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        var nanoseconds = Int64(now.tv_nsec) + attoseconds / 1_000_000_000
        var wholeSeconds = Int64(now.tv_sec) + min(seconds, Int64(Int32.max))
        wholeSeconds += nanoseconds / 1_000_000_000
        nanoseconds %= 1_000_000_000
        var deadline = timespec(tv_sec: .init(wholeSeconds), tv_nsec: .init(nanoseconds))
        pthread_cond_timedwait(condition, lock.mutex, &deadline)
        #endif
    }

    /// Wakes one waiter, if any.
    func signal() {
        pthread_cond_signal(condition)
    }

    /// Wakes every waiter.
    func broadcast() {
        pthread_cond_broadcast(condition)
    }
}
