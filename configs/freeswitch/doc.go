// Package freeswitch holds no code: it is the FreeSWITCH configuration that
// hands calls to fsivr (dialplan/fsivr.xml) and the inbound Event Socket
// settings for the dialer (autoload_configs/event_socket.conf.xml). Its test
// checks those files against fsivr's flows and prompts.
package freeswitch
