package zkcontroller

// Block stalls the controller's event goroutine (it waits on an answer
// nobody reads) until release is called, so that a test can line up
// events and faults behind it.
func (c *Controller) Block() (release func()) {
	reply := make(chan int32)
	c.events <- evEpoch{reply}
	return func() { <-reply }
}
