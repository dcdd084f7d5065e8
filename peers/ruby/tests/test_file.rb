# frozen_string_literal: true

require "minitest/autorun"
require "json"
require "rb-inotify"
require_relative "support"
require_relative "../workload"

# The real peer, --transport=file, in both wake-up modes (inotify and
# DIR?wait=poll), on a private directory (0700) made by the test. The test
# watches the directory itself to check that the peer only ever creates its
# dot-temporaries: a req-/rep- name appears only by rename, complete.
module FilePeerTests
  include PeerTestSupport
  RAMP_256_HEX = "3fe376dba491b1ac"

  def setup
    @dir = Dir.mktmpdir("ruby-peer-file-")
    File.chmod(0o700, @dir)
    @created = []
    @moved_in = []
    @notifier = INotify::Notifier.new
    @notifier.watch(@dir, :create, :moved_to) do |ev|
      (ev.flags.include?(:create) ? @created : @moved_in) << ev.name
    end
  end

  def teardown
    @peer&.cleanup
    @notifier&.close
    FileUtils.remove_entry(@dir) if @dir && File.directory?(@dir)
  end

  def start(*flags)
    @peer = PeerProcess.new(["--transport=file", "--address=#{address}", *flags])
    assert_equal address, @peer.address
  end

  # Write-to-temporary-then-rename, as the harness does; returns the file's
  # inode.
  def put(name, content)
    tmp = File.join(@dir, ".#{name}.tmp")
    File.binwrite(tmp, content)
    ino = File.stat(tmp).ino
    File.rename(tmp, File.join(@dir, name))
    ino
  end

  def request(id, msg)
    put("req-#{id}.json", JSON.generate(msg))
  end

  def drain_events
    @notifier.process while IO.select([@notifier.to_io], nil, nil, 0)
  end

  # The reply to request `id` (read and removed), waiting with a timeout.
  def reply(id)
    path = File.join(@dir, "rep-#{id}.json")
    wait_until("#{File.basename(path)}", interval: 0.001) { File.exist?(path) }
    data = File.read(path)
    File.unlink(path)
    JSON.parse(data)
  end

  def call(id, msg)
    request(id, msg)
    reply(id)
  end

  def test_round_trips_garbage_and_no_visible_temporaries
    request(1, { "id" => 1, "op" => "add", "x" => MAX64, "y" => 1 }) # there before the peer starts
    start
    assert_equal({ "id" => 1, "result" => MIN64 }, reply(1))
    r = call(2, { "id" => 2, "op" => "score", "features" => Workload.ramp_features(256), "model" => "modèle-ü" })
    assert_equal [2, RAMP_256_HEX, "fraud"], [r["id"], [r["score"]].pack("G").unpack1("H*"), r["label"]]

    put("req-3.json", "garbage {")
    r = reply(3)
    assert_equal 3, r["id"]
    assert_kind_of String, r["error"]
    r = call(4, { "id" => 4, "op" => "add", "x" => "a", "y" => 1 })
    assert_equal [4, String], [r["id"], r["error"].class]
    put("req-oops.json", "{}") # no id in the name: removed and logged
    assert_equal({ "id" => 5, "result" => 3 }, call(5, { "id" => 5, "op" => "add", "x" => 1, "y" => 2 }))
    wait_until("req-oops.json removed") { !File.exist?(File.join(@dir, "req-oops.json")) }
    20.times { |i| assert_equal({ "id" => 10 + i, "result" => 2 * i }, call(10 + i, { "id" => 10 + i, "op" => "add", "x" => i, "y" => i })) }

    assert @peer.alive?
    assert_empty Dir.children(@dir), "left behind in the directory"
    drain_events
    refute_empty @moved_in
    bad = @created.reject { |n| n.start_with?(".req-") || n.match?(/\A\.rep-\d+\.json\.tmp\z/) }
    assert_empty bad, "files created under a final name (not renamed into place)"
    assert(@moved_in.all? { |n| n.match?(/\A(req|rep)-\w+\.json\z/) })
  end

  # --echo: req-ID.json becomes rep-ID.json by a rename (the same inode,
  # the same bytes), whatever it holds; the peer creates no file.
  def test_echo_renames_each_request_to_its_reply
    add = %({"id":1,"x":#{MAX64},"y":1})
    ino = put("req-1.json", add) # there before the peer starts
    start("--echo")
    requests = { 1 => [add, ino] }
    score = JSON.generate({ "id" => 2, "features" => Workload.ramp_features(256), "model" => "modèle-ü" })
    requests[2] = [score, put("req-2.json", score)]
    requests[3] = ["garbage {\xFF".b, put("req-3.json", "garbage {\xFF".b)]
    put("req-oops.json", "{}") # no id in the name: removed and logged, as in the row
    requests.each do |id, (content, inode)|
      path = File.join(@dir, "rep-#{id}.json")
      wait_until("rep-#{id}.json", interval: 0.001) { File.exist?(path) }
      assert_equal content.b, File.binread(path)
      assert_equal inode, File.stat(path).ino
      File.unlink(path)
    end
    wait_until("req-oops.json removed") { !File.exist?(File.join(@dir, "req-oops.json")) }
    assert @peer.alive?
    assert_empty Dir.children(@dir), "left behind in the directory"
    drain_events
    assert_empty @created.reject { |n| n.start_with?(".req-") }, "the peer created files"
  end

  def test_term_exits_0
    start
    assert_equal({ "id" => 1, "result" => 3 }, call(1, { "id" => 1, "op" => "add", "x" => 1, "y" => 2 }))
    assert_exits_0_on_term
  end
end

class TestPeerFileInotify < Minitest::Test
  include FilePeerTests

  def address
    @dir
  end
end

class TestPeerFilePoll < Minitest::Test
  include FilePeerTests

  def address
    "#{@dir}?wait=poll"
  end
end
