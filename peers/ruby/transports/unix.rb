# frozen_string_literal: true

# Unix domain stream socket server: binds --address (mode 0600, removed on
# exit), one thread per connection, frames (raw_frame.rb): raw calls, and
# JSON / protobuf messages in frames of kind 0x20 / 0x30 whatever --codec.

require "socket"
require_relative "../raw_frame"

module Transports
  module Unix
    module_function

    # Serves until the process is told to stop (SIGTERM/SIGINT raise
    # SystemExit in this thread); the socket file is removed on the way out.
    def run(opts)
      path = opts.address
      raise ArgumentError, "unix: --address must be a socket path" if path.nil? || path.empty? || path == "-"

      server = nil
      ino = nil
      begin
        old_umask = File.umask(0o177) # the socket file is created 0600
        begin
          server = UNIXServer.new(path)
        ensure
          File.umask(old_umask)
        end
        ino = File.lstat(path).ino
        opts.ready(path)
        RawFrame.serve_listener(server, echo: opts.echo)
      ensure
        server.close if server && !server.closed?
        remove_socket(path, ino) if server
      end
    end

    # Removes the socket file only if it is still the one this process bound.
    def remove_socket(path, ino)
      st = File.lstat(path)
      File.unlink(path) if st.socket? && (ino.nil? || st.ino == ino)
    rescue SystemCallError
      nil
    end
  end
end
