# frozen_string_literal: true

# gRPC (service interop.v1.Interop, schemas/interop.proto) on 127.0.0.1:PORT
# (0 = pick one; READY names the real port). One server serves both tiers:
# unary Add/Score/Batch for `grpc`, the bidi Stream for `grpc-stream`.
#
# Bounds as everywhere (at most 131072 features, a model of at most 1024
# UTF-8 bytes): a unary call outside them fails with INVALID_ARGUMENT; on the
# stream the request gets a Reply with `error` set and the stream goes on.
#
# Batches (bench --batch=B): the Batch rpc, or a Request with `batch` on the
# stream, is answered whole by the pool thread that took it, item by item
# in order (ProtobufMessage.batch_items, shared with every tier that carries
# protobuf bytes, as is the stream's answer, ProtobufMessage.reply_for): item i of the BatchReply answers item i, a Reply
# with add, score or, for an item wrong in itself (neither add nor score, a
# batch inside the batch, a bound broken), error; items carry id 0. A wrong
# shape (no items, more than MAX_BATCH_ITEMS) is INVALID_ARGUMENT from
# Batch, a Reply with `error` and the batch's id on the stream. Messages of
# up to MAX_GRPC_MESSAGE are taken and sent, each way.
#
# With --echo the same service and methods carry raw bytes instead
# (define_echo_service): Add, Score and Batch return the request message's
# bytes, Stream writes each request's bytes back in order; no protobuf is
# decoded.
#
# The generated code (interop_pb.rb, interop_services_pb.rb) is made by the
# build into $INTEROP_GENERATED_DIR/ruby (default <repo>/build/generated/ruby).

require_relative "tcp"
require_relative "../workload"
require_relative "../raw_frame"
require_relative "../protobuf_message"

module Transports
  module GrpcServer
    # MAX_GRPC_MESSAGE (interop.proto): a batch of up to 16 MiB and its
    # framing. Bigger messages are refused by gRPC itself
    # (RESOURCE_EXHAUSTED) before they are decoded.
    MAX_MESSAGE_BYTES = 17_825_792
    # grpc 1.51 refuses a call (RESOURCE_EXHAUSTED, "No free threads in
    # thread pool") whenever no worker thread is idle, whatever
    # max_waiting_requests says: the pool must outnumber the calls the
    # harness keeps in flight (--inflight), with room for workers that have
    # replied but are not idle yet: under the GVL as many again can be (K + 16
    # still ran out at K=64). grpc's own default (30) otherwise.
    DEFAULT_POOL_SIZE = 30
    POOL_HEADROOM = 16
    STOP_SECONDS = 3

    module_function

    # Loads grpc, the messages (ProtobufMessage.load puts the generated
    # directory on $LOAD_PATH: interop_services_pb.rb does `require
    # 'interop_pb'`) and the service.
    def load_generated
      dir = ProtobufMessage.generated_dir
      unless File.file?(File.join(dir, "interop_services_pb.rb"))
        raise IOError, "generated gRPC code not found in #{dir} (build the project, or set INTEROP_GENERATED_DIR)"
      end

      begin
        require "grpc"
        ProtobufMessage.load
        require "interop_services_pb"
      rescue LoadError => e # a ScriptError: peer.rb would not report it in one line
        raise IOError, "cannot load gRPC (Debian's ruby-grpc, ruby-google-protobuf) or the code " \
                       "generated in #{dir}: #{e.message}"
      end
    end

    def define_service
      pb = ::Interop::V1
      Class.new(pb::Interop::Service) do
        define_method(:add) do |req, _call|
          pb::AddReply.new(id: req.id, result: Workload.add(req.x, req.y))
        end

        define_method(:score) do |req, _call|
          if (bad = ProtobufMessage.check_score(req))
            RawFrame.log_line($stderr, "bad request (id #{req.id}): #{bad}")
            raise GRPC::InvalidArgument, bad
          end
          score, label = Workload.score(req.features.to_a, req.model)
          pb::ScoreReply.new(id: req.id, score: score, label: label)
        end

        define_method(:batch) do |req, _call|
          if (bad = ProtobufMessage.check_batch(req))
            RawFrame.log_line($stderr, "bad batch (id #{req.id}): #{bad}")
            raise GRPC::InvalidArgument, bad
          end
          pb::BatchReply.new(id: req.id, items: ProtobufMessage.batch_items(req))
        end

        # Replies in request order, each written as soon as it is computed,
        # as every byte tier answers a protobuf Request (ProtobufMessage).
        define_method(:stream) do |requests, _call|
          Enumerator.new do |out|
            requests.each { |req| out << ProtobufMessage.reply_for(req, 0) }
          end
        end
      end
    end

    # --echo: interop.v1.Interop with identity (de)serialisation. RpcDesc
    # unmarshals with `input_class.send(unmarshal_method, bytes)` and
    # marshals with `reply.class.send(marshal_method, reply).to_s`, so the
    # message class is String itself and both methods are String.try_convert,
    # which returns a String as the very same object: the bytes gRPC read are
    # the bytes it writes, with no copy and no wrapper. (A Raw class with
    # `self.encode(s) = s` would not do: the reply's class is String then,
    # and String has no class method encode.) The rpcs are described in one
    # class and served by a subclass, as with the generated Service.
    def define_echo_service
      described = Class.new do
        include GRPC::GenericService

        self.marshal_class_method = :try_convert
        self.unmarshal_class_method = :try_convert
        self.service_name = "interop.v1.Interop"

        rpc :Add, String, String
        rpc :Score, String, String
        rpc :Batch, String, String
        rpc :Stream, stream(String), stream(String)
      end
      Class.new(described) do
        def add(req, _call)
          req
        end

        def score(req, _call)
          req
        end

        def batch(req, _call)
          req
        end

        # The requests themselves: the server's write loop takes each one
        # as it is read and writes it straight back, so replies keep the
        # request order.
        def stream(requests, _call)
          requests
        end
      end
    end

    def run(opts)
      port = Tcp.parse_address(opts.address)
      # Echo mode needs only grpc, but loads the generated code too, so that
      # both modes start, or fail to, alike.
      load_generated
      server = GRPC::RpcServer.new(
        pool_size: [DEFAULT_POOL_SIZE, (2 * opts.inflight) + POOL_HEADROOM].max,
        server_args: { "grpc.max_receive_message_length" => MAX_MESSAGE_BYTES,
                       "grpc.max_send_message_length" => MAX_MESSAGE_BYTES }
      )
      bound = server.add_http2_port("#{Tcp::LOOPBACK}:#{port}", :this_port_is_insecure)
      raise IOError, "cannot listen on #{opts.address}" unless bound.is_a?(Integer) && bound.positive?

      server.handle(opts.echo ? define_echo_service : define_service)
      runner = Thread.new { server.run }
      runner.report_on_exception = false
      raise IOError, "gRPC server did not start" unless server.wait_till_running(10)

      opts.ready("#{Tcp::LOOPBACK}:#{bound}")
      begin
        runner.join # until SIGTERM/SIGINT raises SystemExit here
      ensure
        stop(server)
      end
      0
    end

    # Stops the server, but never waits more than STOP_SECONDS for it.
    def stop(server)
      stopper = Thread.new { server.stop }
      stopper.report_on_exception = false
      stopper.join(STOP_SECONDS)
    rescue StandardError
      nil
    end
  end
end
