# frozen_string_literal: true

# Runs every test_*.rb beside this file: ruby peers/ruby/tests/all.rb
Dir.glob(File.join(__dir__, "test_*.rb")).sort.each { |f| require f }
